/** The Playground: full cache + 3 configurations side by side, KV held vs full, and the retention overlay with its layer slider and head picker. */
import './dom.ts';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { act, fireEvent, screen } from '@testing-library/react';
import { PlaygroundScreen } from '../../renderer/src/screens/Playground.tsx';
import { settle, setup } from './render.tsx';

test('renders the full cache and three compressed columns with a retention overlay each', async () => {
  const h = await setup();
  h.render(<PlaygroundScreen />);
  await settle(); // the default example fills the prompt
  // Two configs by default; add a third, then the add button disappears at the limit.
  fireEvent.click(screen.getByTestId('playground-add-config'));
  assert.equal(screen.queryByTestId('playground-add-config'), null);
  fireEvent.change(screen.getByTestId('playground-budget-2'), { target: { value: '10%' } });
  fireEvent.click(screen.getByTestId('playground-run'));
  await settle();

  const call = h.fake.calls.find((c) => c.method === 'runPlayground');
  assert.deepEqual((call?.input as { configs: unknown }).configs, [
    { method: 'snapkv/uniform', budget: '20%' },
    { method: 'snapkv/zigzagkv', budget: '20%' },
    { method: 'snapkv/pyramidkv', budget: '10%' },
  ]);
  const cols = screen.getAllByTestId('playground-column');
  assert.equal(cols.length, 4);
  assert.deepEqual(
    cols.map((c) => c.getAttribute('data-label')),
    ['full', 'snapkv/uniform @ 20%', 'snapkv/zigzagkv @ 20%', 'snapkv/pyramidkv @ 10%'],
  );
  for (const c of cols) assert.ok((c.querySelector('[data-testid="pg-text"]')?.textContent ?? '').length > 0);
  assert.match(cols[0]?.querySelector('[data-testid="pg-kv"]')?.textContent ?? '', /\(100\.0%\)$/);
  assert.doesNotMatch(cols[3]?.querySelector('[data-testid="pg-kv"]')?.textContent ?? '', /\(100\.0%\)$/);

  const overlays = screen.getAllByTestId('retention-overlay');
  assert.equal(overlays.length, 4);
  const n = Number(overlays[0]?.getAttribute('data-token-count'));
  assert.ok(n > 10);
  assert.equal(overlays[0]?.getAttribute('data-kept-count'), String(n), 'the full cache keeps every token');
  const kept10 = Number(overlays[3]?.getAttribute('data-kept-count'));
  assert.ok(kept10 > 0 && kept10 < n, `10% keeps some tokens: ${kept10}/${n}`);
  assert.equal(overlays[3]?.querySelectorAll('.tok-evicted').length, n - kept10);
});

test('the layer slider and head picker change what the overlay shows', async () => {
  const h = await setup();
  h.render(<PlaygroundScreen />);
  await settle(); // the default example fills the prompt
  fireEvent.click(screen.getByTestId('playground-run'));
  await settle();
  const overlay = () => screen.getAllByTestId('retention-overlay')[1];
  const response = h.store.getState().response;
  assert.ok(response);
  const kept = response.results[1]?.kept ?? [];
  // Head 0 of layer 0: exactly its kept positions.
  fireEvent.change(screen.getByTestId('playground-head'), { target: { value: '0' } });
  assert.equal(overlay()?.getAttribute('data-kept-count'), String(kept[0]?.[0]?.length));
  // The demo model has 6 layers: the slider goes to 5.
  assert.equal((screen.getByTestId('playground-layer') as HTMLInputElement).max, '5');
  fireEvent.change(screen.getByTestId('playground-layer'), { target: { value: '3' } });
  assert.equal(screen.getByTestId('playground-layer-value').textContent, '3');
  assert.equal(overlay()?.getAttribute('data-kept-count'), String(kept[3]?.[0]?.length));
  // All heads: a token counts as kept if any head kept it.
  fireEvent.change(screen.getByTestId('playground-head'), { target: { value: 'all' } });
  const union = new Set((kept[3] ?? []).flat());
  assert.equal(overlay()?.getAttribute('data-kept-count'), String(union.size));
});

test('a bad budget shows the engine error', async () => {
  const h = await setup();
  h.render(<PlaygroundScreen />);
  await settle(); // the default example fills the prompt
  fireEvent.change(screen.getByTestId('playground-budget-0'), { target: { value: 'much' } });
  fireEvent.click(screen.getByTestId('playground-run'));
  await settle();
  assert.match(screen.getByTestId('playground-error').textContent ?? '', /Budget "much" is not understood: write a share of the cache \(20%\)/);
  assert.equal(h.store.getState().playgroundRunning, false);
});

test('a budget too small for a short prompt is raised, and its column says so in one line', async () => {
  const h = await setup();
  h.render(<PlaygroundScreen />);
  fireEvent.change(screen.getByTestId('playground-prompt'), { target: { value: 'Once upon a time' } });
  fireEvent.change(screen.getByTestId('playground-budget-0'), { target: { value: '1%' } });
  fireEvent.change(screen.getByTestId('playground-budget-1'), { target: { value: '100%' } });
  fireEvent.click(screen.getByTestId('playground-run'));
  await settle();
  const cols = screen.getAllByTestId('playground-column');
  const notes = (i: number) => [...(cols[i]?.querySelectorAll('[data-testid="pg-notice"]') ?? [])].map((p) => p.textContent ?? '');
  assert.deepEqual(notes(0), [], 'the full cache');
  assert.equal(notes(1).length, 1);
  assert.match(
    notes(1)[0] ?? '',
    /^note: budget 1% = \d+ tokens? over \d+ layers is below what snapkv\/uniform can keep of this 5-token prompt.*kept the full cache/,
  );
  assert.deepEqual(notes(2), [], 'a budget that covers the prompt needs no notice');
});

test('opens on a passkey example in the trained format; the columns check its answer and the overlays find its needle; Insert example makes a needle one', async () => {
  const h = await setup();
  h.render(<PlaygroundScreen />);
  await settle();
  const asked = h.fake.calls.filter((c) => c.method === 'playgroundExample');
  assert.equal(asked.length, 1, 'one example, asked for by itself');
  assert.deepEqual(
    { ...(asked[0]?.input as object), modelId: undefined },
    { modelId: undefined, kind: 'passkey', contextLength: 512, depth: 50, template: 'train-0', seed: 1 },
  );
  const example = h.store.getState().example;
  assert.ok(example);
  const prompt = (screen.getByTestId('playground-prompt') as HTMLTextAreaElement).value;
  assert.equal(prompt, example.prompt);
  assert.ok(prompt.includes(`Keep this number in mind, it is the passkey: ${example.answers[0] ?? ''}.`), 'the first trained passkey template');
  assert.equal(screen.getByTestId('playground-max-tokens').getAttribute('value'), '32', "the NIAH workload's generation cap");
  assert.match(
    screen.getByTestId('playground-example-info').textContent ?? '',
    new RegExp(`trained template train-0.*The answer is ${example.answers[0] ?? ''}`),
  );

  fireEvent.click(screen.getByTestId('playground-run'));
  await settle();
  const cols = screen.getAllByTestId('playground-column');
  for (const c of cols) {
    assert.match(c.querySelector('[data-testid="pg-rate"]')?.textContent ?? '', /^decode \d/);
    // The fake's canned text has no passkey in it: every column says what was expected.
    const verdict = c.querySelector('[data-testid="pg-verdict"]');
    assert.equal(verdict?.getAttribute('data-right'), '0');
    assert.equal(verdict?.textContent, `✗ expected ${example.answers[0] ?? ''}`);
  }
  assert.match(
    screen.getByTestId('playground-prefill').textContent ?? '',
    /^prefill [\d,]+ prompt tokens in [\d,]+ ms \([\d,.]+ tok\/s\), shared by every column$/,
  );
  assert.match(cols[1]?.querySelector('[data-testid="pg-layer-budgets"]')?.getAttribute('title') ?? '', /union/);
  // The needle: outlined in every overlay, all of it kept by the full cache; the legend explains the union over heads.
  const overlays = screen.getAllByTestId('retention-overlay');
  const needleTokens = overlays[0]?.querySelectorAll('[data-needle="1"]') ?? [];
  assert.ok(needleTokens.length > 5);
  assert.equal(
    [...needleTokens]
      .map((t) => t.textContent)
      .join('')
      .trim(),
    example.needle,
  );
  const kept = (i: number) => overlays[i]?.querySelector('[data-testid="retention-needle-kept"]');
  assert.equal(kept(0)?.getAttribute('data-value'), String(needleTokens.length));
  assert.equal(kept(1)?.getAttribute('data-total'), String(needleTokens.length));
  assert.match(overlays[1]?.querySelector('[data-testid="retention-legend"]')?.textContent ?? '', /^kept by any of the \d KV heads: .* \(union over heads\)$/);
  fireEvent.click(screen.getAllByTestId('retention-jump-needle')[1] as Element);

  // Another example: a needle in the third trained template.
  fireEvent.change(screen.getByTestId('playground-example-kind'), { target: { value: 'needle' } });
  fireEvent.change(screen.getByTestId('playground-example-template'), { target: { value: 'train-2' } });
  fireEvent.click(screen.getByTestId('playground-insert-example'));
  await settle();
  const last = h.fake.calls.filter((c) => c.method === 'playgroundExample').at(-1);
  assert.equal((last?.input as { template: string }).template, 'train-2');
  assert.match(
    (screen.getByTestId('playground-prompt') as HTMLTextAreaElement).value,
    /In the harbour log, the ship called .+ is listed with berth number \d{7}\./,
  );
});

test('a prompt the user writes before the example arrives is kept', async () => {
  const h = await setup();
  h.render(<PlaygroundScreen />);
  fireEvent.change(screen.getByTestId('playground-prompt'), { target: { value: 'My own prompt' } });
  await settle();
  assert.equal((screen.getByTestId('playground-prompt') as HTMLTextAreaElement).value, 'My own prompt');
  assert.equal(h.store.getState().example, null);
});

test('a run in flight shows its progress and a Cancel that stops it: no error, the last response stays, Run is back', async () => {
  const h = await setup({ holdLongCalls: true });
  h.render(<PlaygroundScreen />);
  await settle(); // the default example fills the prompt
  // A first run answered, so there is a response to keep.
  fireEvent.click(screen.getByTestId('playground-run'));
  await settle();
  assert.equal(h.fake.releaseLongCalls(), 1);
  await settle();
  const first = h.store.getState().response;
  assert.ok(first);
  assert.equal(screen.queryByTestId('playground-progress'), null, 'no progress line once the run answered');

  fireEvent.click(screen.getByTestId('playground-run'));
  await settle();
  const calls = h.fake.calls.filter((c) => c.method === 'runPlayground');
  const requestId = (calls.at(-1)?.input as { requestId?: string }).requestId;
  assert.match(requestId ?? '', /^playground-/);
  assert.notEqual(requestId, (calls[0]?.input as { requestId?: string }).requestId, 'each run has its own id');
  // The fake reports half the prompt prefilled (as the host's call.progress events do), and holds the call there.
  const text = screen.getByTestId('playground-progress-text').textContent ?? '';
  const [, done, total] = /^prefill ([\d,]+) of ([\d,]+) tokens$/.exec(text) ?? [];
  assert.ok(done && total, text);
  const bar = screen.getByTestId('playground-progress-bar');
  assert.equal(bar.getAttribute('aria-valuenow'), done.replace(/,/g, ''));
  assert.equal(bar.getAttribute('aria-valuemax'), total.replace(/,/g, ''));
  assert.equal((screen.getByTestId('playground-run') as HTMLButtonElement).disabled, true);

  fireEvent.click(screen.getByTestId('playground-progress-cancel'));
  assert.equal(screen.getByTestId('playground-progress-text').textContent, 'Cancelling…');
  await settle();
  assert.deepEqual(
    h.fake.calls.filter((c) => c.method === 'cancelCall').map((c) => c.input),
    [{ requestId }],
  );
  assert.equal(screen.queryByTestId('playground-progress'), null);
  assert.equal(screen.queryByTestId('playground-error'), null, 'a cancel is not an error');
  assert.equal(h.store.getState().response, first, 'the last response stays');
  assert.ok(h.store.getState().notices.some((n) => n.text === 'The Playground run was cancelled.'));
  assert.equal((screen.getByTestId('playground-run') as HTMLButtonElement).disabled, false);
  assert.equal(h.fake.releaseLongCalls(), 0, 'nothing left held');
});

test("another request's progress event does not move this run's line", async () => {
  const h = await setup({ holdLongCalls: true });
  h.render(<PlaygroundScreen />);
  await settle();
  fireEvent.click(screen.getByTestId('playground-run'));
  await settle();
  const before = screen.getByTestId('playground-progress-text').textContent;
  act(() =>
    h.fake.emit({
      type: 'call.progress',
      requestId: 'another-client',
      call: 'runPlayground',
      stage: 'prefill',
      done: 1,
      total: 9,
      current: 'prefill 1 of 9 tokens',
    }),
  );
  assert.equal(screen.getByTestId('playground-progress-text').textContent, before);
  h.fake.releaseLongCalls();
  await settle();
});
