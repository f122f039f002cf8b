/**
 * The renderer's store against the typed fake: live events (progress, rows,
 * logs, status) update the runs slice; rows are never doubled when
 * getResults races the event stream; cancel / resume reach the API; models,
 * settings and the builder's pure helpers behave. No DOM needed.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ResultRow } from '@kvlab/core';
import { generateNiah, parseNumberList } from '@kvlab/core';
import { createFakeLab, FAKE_DEMO_MODEL, FAKE_SMALL_EXPERIMENT } from '../../renderer/src/api/fake.ts';
import {
  builderExperiment,
  builderMethods,
  contextIssues,
  DEFAULT_WORKLOADS,
  INITIAL_BUILDER_FORM,
  validateExperiment,
  workloadInput,
} from '../../renderer/src/store/builder.ts';
import { createLabStore, initLabStore } from '../../renderer/src/store/index.ts';
import { estimateCost, sampleGrid } from '../../renderer/src/util/cost.ts';

async function harness() {
  const fake = createFakeLab({ tickMs: null });
  const store = createLabStore(fake);
  const unsubscribe = store.getState().subscribe();
  await initLabStore(store);
  return { fake, store, unsubscribe };
}
const tick = () => new Promise((r) => setTimeout(r, 0));

test('initial loads: bundled model selected, its card fetched, methods from the registry, builder defaults to it', async () => {
  const { store } = await harness();
  const s = store.getState();
  assert.equal(s.models[0]?.bundled, true);
  assert.equal(s.selectedModelId, FAKE_DEMO_MODEL.id);
  assert.equal(s.cards[FAKE_DEMO_MODEL.id]?.layers, 6);
  assert.ok(s.methodInfo.some((m) => m.id === 'zigzagkv' && m.kind === 'allocator'));
  assert.deepEqual(s.builder.modelIds, [FAKE_DEMO_MODEL.id]);
  assert.equal(s.builderPreset, 'quick');
  assert.equal(s.settings?.theme, 'system');
});

test('progress events update the run; rows and logs are appended as they stream', async () => {
  const { fake, store } = await harness();
  const run = await store.getState().startRun(FAKE_SMALL_EXPERIMENT);
  assert.ok(run);
  assert.equal(store.getState().selectedRunId, run.id);
  const total = run.cellsTotal;
  // 3 samples per context length × 2 lengths × (1 full + 3 methods × 3 budgets)
  assert.equal(total, 6 * 10);

  fake.step(4);
  let r = store.getState().runs.find((x) => x.id === run.id);
  assert.equal(r?.status, 'running');
  assert.equal(r?.cellsDone, 4);
  assert.equal(r?.cellsTotal, total);
  assert.ok((r?.tokensPerSecond ?? 0) > 0);
  assert.match(store.getState().current[run.id] ?? '', /niah-passkey\/c256\/d0\/s0/);
  const rows = store.getState().rows[run.id] ?? [];
  assert.equal(rows.length, 4);
  const first = rows[0] as ResultRow;
  assert.equal(first.kind, 'cell');
  assert.equal(first.method, 'full');
  assert.ok((store.getState().logs[run.id] ?? []).some((l) => /planned 60 cells/.test(l.message)));

  fake.drain();
  r = store.getState().runs.find((x) => x.id === run.id);
  assert.equal(r?.status, 'done');
  assert.equal(r?.cellsDone, total);
  // Every cell plus the state-leak check row.
  assert.equal(store.getState().rows[run.id]?.length, total + 1);
  assert.equal(store.getState().current[run.id], undefined);
});

test('loadRun after streamed rows does not double them (dedup by cell id)', async () => {
  const { fake, store } = await harness();
  const run = await store.getState().startRun(FAKE_SMALL_EXPERIMENT);
  assert.ok(run);
  await tick(); // the loadRun selectRun started
  fake.step(7);
  await store.getState().loadRun(run.id);
  const rows = store.getState().rows[run.id] ?? [];
  assert.equal(rows.length, 7);
  assert.equal(new Set(rows.map((x) => x.cellId)).size, 7);
  assert.equal(store.getState().details[run.id]?.experiment.name, FAKE_SMALL_EXPERIMENT.name);
});

test('cancel calls the API and stops progress; resume continues from the finished cells', async () => {
  const { fake, store } = await harness();
  const run = await store.getState().startRun(FAKE_SMALL_EXPERIMENT);
  assert.ok(run);
  fake.step(5);
  await store.getState().cancelRun(run.id);
  assert.ok(fake.calls.some((c) => c.method === 'cancelRun' && (c.input as { runId: string }).runId === run.id));
  assert.equal(store.getState().runs.find((x) => x.id === run.id)?.status, 'cancelled');
  assert.equal(fake.step(3), 0, 'a cancelled run does not advance');
  assert.equal(store.getState().runs.find((x) => x.id === run.id)?.cellsDone, 5);

  await store.getState().resumeRun(run.id);
  assert.equal(store.getState().runs.find((x) => x.id === run.id)?.status, 'queued');
  fake.step(1);
  assert.equal(store.getState().runs.find((x) => x.id === run.id)?.cellsDone, 6);
  assert.equal(store.getState().rows[run.id]?.length, 6);
});

test("a resumed run's answer ('queued') that arrives after its 'running' and progress events does not hide them", async () => {
  // What the host does: resumeRun answers with the run as re-queued, but the engine starts it (status 'running',
  // then progress) before the answer reaches the window — the events overtake the answer.
  const fake = createFakeLab({ tickMs: null });
  const api: typeof fake = {
    ...fake,
    resumeRun: async (input) => {
      const answer = await fake.resumeRun(input);
      fake.step(1);
      return answer;
    },
  };
  const store = createLabStore(api);
  store.getState().subscribe();
  await initLabStore(store);
  const run = await store.getState().startRun(FAKE_SMALL_EXPERIMENT);
  assert.ok(run);
  fake.step(3);
  await store.getState().cancelRun(run.id);
  await store.getState().resumeRun(run.id);
  const r = store.getState().runs.find((x) => x.id === run.id);
  assert.equal(r?.status, 'running', 'the events are newer than the answer');
  assert.equal(r?.cellsDone, 4);
  assert.ok((r?.etaSeconds ?? 0) > 0 && (r?.tokensPerSecond ?? 0) > 0, 'ETA and rate shown');
  assert.match(store.getState().current[run.id] ?? '', /niah-passkey/);
  // Without the overtaking events the answer still counts: a plain resume reads 'queued' until the run starts.
  await store.getState().cancelRun(run.id);
  await fake.resumeRun({ runId: run.id });
  assert.equal(store.getState().runs.find((x) => x.id === run.id)?.status, 'queued');
});

test('a progress event marks a run still shown as queued as running (a status event lost while the stream reconnected)', async () => {
  const { fake, store } = await harness();
  const run = await store.getState().startRun(FAKE_SMALL_EXPERIMENT);
  assert.ok(run);
  assert.equal(store.getState().runs.find((x) => x.id === run.id)?.status, 'queued');
  fake.emit({ type: 'run.progress', runId: run.id, cellsDone: 1, cellsTotal: run.cellsTotal, tokensPerSecond: 100, etaSeconds: 30, current: 'x' });
  assert.equal(store.getState().runs.find((x) => x.id === run.id)?.status, 'running');
});

test('a failed call becomes a notice; an unknown run status reloads the list', async () => {
  const { fake, store } = await harness();
  await store.getState().cancelRun('run-9999');
  assert.match(store.getState().notices.at(-1)?.text ?? '', /cancelling: no run with id 'run-9999'/);
  // A run started elsewhere (another window, the CLI in serve mode): its status event arrives first.
  await fake.startRun({ experiment: FAKE_SMALL_EXPERIMENT });
  await tick();
  await tick();
  assert.equal(store.getState().runs.length, 1);
});

test('unsubscribe detaches the listener', async () => {
  const { fake, unsubscribe } = await harness();
  assert.equal(fake.listenerCount(), 1);
  unsubscribe();
  assert.equal(fake.listenerCount(), 0);
});

test('models: open by path selects the new model; a bad path sets openError; models.changed reloads', async () => {
  const { fake, store } = await harness();
  const card = await store.getState().openModel('/data/models/tiny-llama.gguf');
  assert.equal(card?.name, 'tiny-llama');
  assert.equal(store.getState().selectedModelId, card?.id);
  assert.equal(store.getState().models.length, 3);
  assert.equal(store.getState().models[0]?.bundled, true, 'bundled model stays first');

  assert.equal(await store.getState().openModel('/nope/missing.gguf'), null);
  assert.match(store.getState().openError ?? '', /no such file/);
  assert.equal(await store.getState().openModel('   '), null);
  assert.match(store.getState().openError ?? '', /Enter the path/);

  const before = fake.calls.filter((c) => c.method === 'listModels').length;
  fake.emit({ type: 'models.changed' });
  await tick();
  assert.equal(fake.calls.filter((c) => c.method === 'listModels').length, before + 1);
});

test('settings: the theme is saved through updateSettings', async () => {
  const { fake, store } = await harness();
  await store.getState().setTheme('dark');
  assert.equal(store.getState().settings?.theme, 'dark');
  assert.deepEqual(fake.calls.at(-1), { method: 'updateSettings', input: { theme: 'dark' } });
  assert.equal((await fake.getSettings({})).theme, 'dark');
});

test("the cost estimate's NIAH sample grid names, orders and scores samples as core's generator does", () => {
  const counter = { count: (t: string) => t.split(/\s+/).filter(Boolean).length };
  for (const extra of [{}, { match: 'whole' as const }, { name: 'passkey-heldout' }]) {
    const def = { kind: 'niah' as const, variant: 'passkey' as const, contextLengths: [200, 300], depths: [0, 50, 100], samplesPerCell: 2, ...extra };
    const want = generateNiah(def, { seed: 3, counter }).map((s) => ({ id: s.id, workload: s.workload, metric: s.metric }));
    assert.deepEqual(
      sampleGrid(def).samples.map((s) => ({ id: s.id, workload: s.workload, metric: s.metric })),
      want,
    );
  }
});

test('builder helpers: number lists, methods with Ada-KV and presets, validation, cost', async () => {
  const { store } = await harness();
  const infos = store.getState().methodInfo;
  assert.deepEqual(parseNumberList('256, 512 1024'), [256, 512, 1024]);
  assert.ok(Number.isNaN(parseNumberList('256, x')[1]));

  const form = { ...INITIAL_BUILDER_FORM, modelIds: [FAKE_DEMO_MODEL.id], ada: 'also' as const, allocators: ['zigzagkv'] };
  assert.deepEqual(builderMethods(form, infos), ['full', 'snapkv/zigzagkv', 'snapkv/zigzagkv+adakv']);
  const withPreset = builderMethods({ ...form, ada: 'off', paramPresets: { zigzagkv: 'unbounded (Eq. 5)' } }, infos);
  assert.deepEqual(withPreset[1], { method: 'snapkv/zigzagkv', label: 'snapkv/zigzagkv [unbounded (Eq. 5)]', allocator: { boundRatio: 0 } });

  const exp = builderExperiment(form, store.getState().models, infos);
  assert.deepEqual(exp.models, [FAKE_DEMO_MODEL.path]);
  assert.deepEqual(validateExperiment(exp), []);
  // niah 1 length × 3 depths + fidelity 1 length × 2 samples = 5 samples; 1 full + 2 methods × 3 budgets = 7 cells each.
  assert.deepEqual(
    { samples: estimateCost(exp).samples, cells: estimateCost(exp).cells, prefills: estimateCost(exp).prefills },
    { samples: 5, cells: 35, prefills: 5 },
  );

  const bad = validateExperiment({ ...exp, budgets: ['20%', 'abc', '0%'] });
  assert.ok(bad.some((m) => m.startsWith('budgets.1:') && /Budget "abc" is not understood/.test(m)));
  assert.ok(bad.some((m) => m.startsWith('budgets.2:') && /Budget "0%" is not a share of the cache/.test(m)));
  assert.deepEqual(validateExperiment({ ...exp, models: [] })[0], 'Pick at least one model.');
  const w = workloadInput({ ...DEFAULT_WORKLOADS.niah, variant: 'single', contextLengths: '256, x', depths: '50', samplesPerCell: '' });
  assert.ok(validateExperiment({ ...exp, workloads: [w] }).some((m) => /^workloads\.0\.contextLengths\.1: .*NaN/.test(m)));
});

test('submitBuilder starts the run and opens Runs; an invalid form only notifies', async () => {
  const { fake, store } = await harness();
  store.getState().updateBuilder({ budgets: 'abc' });
  assert.equal(await store.getState().submitBuilder(), null);
  assert.match(store.getState().notices.at(-1)?.text ?? '', /budgets\.0/);
  assert.ok(!fake.calls.some((c) => c.method === 'startRun'));

  store.getState().applyBuilderPreset('quick');
  const run = await store.getState().submitBuilder();
  assert.ok(run);
  assert.equal(store.getState().screen, 'runs');
  assert.equal(run.cellsTotal, 50);
});

test("builder checks: workloads longer than a selected model's context are named, with both lengths", () => {
  const exp = {
    ...FAKE_SMALL_EXPERIMENT,
    models: [FAKE_DEMO_MODEL.path],
    workloads: [
      { kind: 'niah' as const, variant: 'passkey' as const, contextLengths: [1024, 4096], depths: [50] },
      { kind: 'fidelity' as const, texts: 'sampled' as const, promptTokens: [512], continuationTokens: 16, samples: 1 },
    ],
  };
  assert.equal(FAKE_DEMO_MODEL.contextLength, 2048);
  const issues = contextIssues(exp, [FAKE_DEMO_MODEL]);
  assert.equal(issues.length, 1);
  assert.match(issues[0] ?? '', /^workloads\.0: 4,096-token prompts leave no room for the answer in .*context \(2,048 tokens\).*Use lengths up to 1,984\./);
  // A prompt of the whole context leaves no room for the answer either; 1,984 (2,048 − 32 for the answer − 32) fits.
  const at = (lengths: number[]) =>
    contextIssues({ ...exp, workloads: [{ ...exp.workloads[0], contextLengths: lengths }] as typeof exp.workloads }, [FAKE_DEMO_MODEL]);
  assert.equal(at([2048]).length, 1);
  assert.deepEqual(at([1984]), []);
  // Fidelity: prompt + continuation past the context.
  const fid = contextIssues({ ...exp, workloads: [{ ...exp.workloads[1], promptTokens: [2040] }] as typeof exp.workloads }, [FAKE_DEMO_MODEL]);
  assert.match(fid[0] ?? '', /^workloads\.0: 2,040 prompt \+ 16 continuation tokens run past .*Use prompts up to 2,032\./);
  // A card of a model the experiment does not use says nothing.
  assert.deepEqual(contextIssues({ ...exp, models: ['other.gguf'] }, [FAKE_DEMO_MODEL]), []);
});
