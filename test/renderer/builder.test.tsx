/** The Experiment builder: the cost estimate counts cells and prefills, a bad budget shows core's validation message, Start queues the run. */
import './dom.ts';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { act, fireEvent, screen } from '@testing-library/react';
import { WORKLOAD_KINDS, workloadFields } from '@kvlab/core';
import { BuilderScreen } from '../../renderer/src/screens/Builder.tsx';
import { settle, setup } from './render.tsx';

test('the quick preset: 5 samples × (1 full + 3 methods × 3 budgets) = 50 cells, 5 prefills; Ada-KV "also" doubles the compressed methods', async () => {
  const h = await setup();
  h.render(<BuilderScreen />);
  assert.equal((screen.getByTestId('builder-preset') as HTMLSelectElement).value, 'quick');
  assert.equal(screen.getByTestId('builder-cost-cells').getAttribute('data-value'), '50');
  assert.equal(screen.getByTestId('builder-cost-prefills').getAttribute('data-value'), '5');
  assert.equal(screen.getByTestId('builder-cost-samples').textContent, '5');
  assert.ok(screen.getByTestId('builder-valid'));

  fireEvent.change(screen.getByTestId('builder-ada'), { target: { value: 'also' } });
  // 1 full + 6 compressed methods × 3 budgets = 19 cells per sample.
  assert.equal(screen.getByTestId('builder-cost-cells').getAttribute('data-value'), String(5 * 19));

  fireEvent.click(screen.getByTestId('builder-allocator-cake'));
  assert.equal(screen.getByTestId('builder-cost-cells').getAttribute('data-value'), String(5 * (1 + 8 * 3)));
  // Depths "0, 50" instead of three: the NIAH grid shrinks by one sample.
  fireEvent.change(screen.getByTestId('builder-w0-depths'), { target: { value: '0, 50' } });
  assert.equal(screen.getByTestId('builder-cost-prefills').getAttribute('data-value'), '4');
});

test('a NIAH workload can use the held-out templates, whole-word answer matching and a name of its own; all reach the experiment JSON', async () => {
  const h = await setup();
  h.render(<BuilderScreen />);
  const niah = (): Record<string, unknown> =>
    (JSON.parse(screen.getByTestId('builder-json').textContent ?? '{}') as { workloads: Record<string, unknown>[] }).workloads[0] ?? {};
  // The defaults are left out of the JSON, as in the CLI's examples.
  assert.equal('match' in niah(), false);
  assert.equal('heldOutTemplates' in niah(), false);
  fireEvent.change(screen.getByTestId('builder-w0-match'), { target: { value: 'whole' } });
  fireEvent.click(screen.getByTestId('builder-w0-held-out'));
  assert.equal(niah()['match'], 'whole');
  assert.equal(niah()['heldOutTemplates'], true);
  assert.ok(screen.getByTestId('builder-valid'));
  // A name of its own; one the schema refuses shows its message.
  assert.equal('name' in niah(), false);
  fireEvent.change(screen.getByTestId('builder-w0-name'), { target: { value: 'passkey-heldout' } });
  assert.equal(niah()['name'], 'passkey-heldout');
  fireEvent.change(screen.getByTestId('builder-w0-name'), { target: { value: 'a/b' } });
  assert.ok(screen.getAllByTestId('builder-issue').some((li) => /^workloads\.0\.name: /.test(li.textContent ?? '')));
  fireEvent.change(screen.getByTestId('builder-w0-name'), { target: { value: '' } });
  assert.ok(screen.getByTestId('builder-valid'));
  // The same grid: the estimate does not change.
  assert.equal(screen.getByTestId('builder-cost-samples').textContent, '5');
});

test('a bad budget shows the validation message and disables Start', async () => {
  const h = await setup();
  h.render(<BuilderScreen />);
  fireEvent.change(screen.getByTestId('builder-budgets'), { target: { value: '10%, lots' } });
  const issues = screen.getAllByTestId('builder-issue').map((li) => li.textContent ?? '');
  assert.ok(
    issues.some((m) => /^budgets\.1: .*Budget "lots" is not understood/.test(m)),
    issues.join('\n'),
  );
  assert.equal((screen.getByTestId('builder-start') as HTMLButtonElement).disabled, true);
  assert.equal((screen.getByTestId('builder-preset') as HTMLSelectElement).value, '', 'an edit leaves the preset');

  fireEvent.change(screen.getByTestId('builder-budgets'), { target: { value: '10%, 150%' } });
  assert.ok(screen.getAllByTestId('builder-issue').some((li) => /^budgets\.1: Budget "150%" is not a share of the cache/.test(li.textContent ?? '')));
  fireEvent.change(screen.getByTestId('builder-budgets'), { target: { value: '10%, 128' } });
  assert.ok(screen.getByTestId('builder-valid'));
});

test('presets come from the list; "paper setting" pairs SnapKV with three allocators, with and without Ada-KV', async () => {
  const h = await setup();
  h.render(<BuilderScreen />);
  fireEvent.change(screen.getByTestId('builder-preset'), { target: { value: 'paper' } });
  const json = JSON.parse(screen.getByTestId('builder-json').textContent ?? '{}') as { methods: unknown[]; budgets: string[] };
  assert.deepEqual(json.methods, [
    'full',
    'snapkv/uniform',
    'snapkv/uniform+adakv',
    'snapkv/pyramidkv',
    'snapkv/pyramidkv+adakv',
    'snapkv/zigzagkv',
    'snapkv/zigzagkv+adakv',
  ]);
  assert.deepEqual(json.budgets, ['128', '256', '512', '1024']);
  // 2 lengths × 5 depths = 10 samples × (1 + 6 × 4) cells.
  assert.equal(screen.getByTestId('builder-cost-cells').getAttribute('data-value'), String(10 * 25));
});

test('Start queues the run with the experiment and opens Runs', async () => {
  const h = await setup();
  h.render(<BuilderScreen />);
  fireEvent.click(screen.getByTestId('builder-start'));
  await settle();
  const call = h.fake.calls.find((c) => c.method === 'startRun');
  assert.ok(call);
  const exp = (call.input as { experiment: { models: string[]; methods: string[] } }).experiment;
  assert.deepEqual(exp.models, ['build/demo-model/kvlab-demo.gguf']);
  assert.deepEqual(exp.methods, ['full', 'snapkv/uniform', 'snapkv/pyramidkv', 'snapkv/zigzagkv']);
  assert.equal(h.store.getState().screen, 'runs');
  assert.equal(h.store.getState().runs[0]?.cellsTotal, 50);
});

test('the time estimate is unknown until the model has run once, then comes from its measured speed', async () => {
  const h = await setup();
  h.render(<BuilderScreen />);
  await settle();
  assert.ok(h.store.getState().builder.modelIds.length > 0, 'the selected model is preselected');
  assert.equal(screen.getByTestId('builder-cost-time').textContent, 'unknown');
  assert.match(screen.getByTestId('builder-cost-time-basis').textContent ?? '', /^Time unknown until .+ has run once/);
  const modelId = h.store.getState().selectedModelId ?? '';
  await act(async () => {
    h.store.getState().setPrompt('The passkey is 71432. What is the passkey?');
    await h.store.getState().runPlayground(modelId);
  });
  const seconds = Number(screen.getByTestId('builder-cost-time').getAttribute('data-seconds'));
  assert.ok(seconds > 0, `seconds: ${seconds}`);
  assert.match(screen.getByTestId('builder-cost-time').textContent ?? '', /^≈ /);
  assert.match(screen.getByTestId('builder-cost-time-basis').textContent ?? '', /the last Playground run/);
});

test("every workload kind of core's registry can be added, shows its registry fields, and writes what they say into the experiment", async () => {
  const h = await setup();
  h.render(<BuilderScreen />);
  const before = h.store.getState().builder.workloads.length;
  for (const [n, kind] of WORKLOAD_KINDS.entries()) {
    fireEvent.click(screen.getByTestId(`builder-add-${kind}`));
    const i = before + n;
    assert.equal(screen.getByTestId(`builder-workload-${i}`).getAttribute('data-kind'), kind);
    for (const f of workloadFields(kind)) assert.ok(screen.getByTestId(`builder-w${i}-${f.testId}`), `${kind}: ${f.key}`);
  }
  // A RULER workload's task select and lengths reach the JSON as the registry's writers put them.
  const ruler = before + WORKLOAD_KINDS.indexOf('ruler');
  fireEvent.change(screen.getByTestId(`builder-w${ruler}-task`), { target: { value: 'cwe' } });
  fireEvent.change(screen.getByTestId(`builder-w${ruler}-contexts`), { target: { value: '300, 600' } });
  const json = JSON.parse(screen.getByTestId('builder-json').textContent ?? '{}') as { workloads: unknown[] };
  assert.deepEqual(json.workloads[ruler], { kind: 'ruler', task: 'cwe', contextLengths: [300, 600], samples: 2 });
});
