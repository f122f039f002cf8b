/**
 * The lab service (electron/host/service.ts) with the real engine on
 * stories260K: the model card, the playground (full vs SnapKV at a small
 * budget: fewer KV bytes, `budget` kept positions per head), the layer
 * profile, a tiny experiment run with its events through to done, results,
 * cancel mid-run and resume, reports, and the run list a restarted host
 * reads back from disk. Inputs go through core's parseInput, as every
 * transport does.
 */
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { after, before, describe, it } from 'node:test';
import type { ApiErrorCode, ExperimentInput, LabEvent, LabInput, LabCall, RunStatus } from '@kvlab/core';
import { ApiError, EXECUTION_PROVIDERS, parseInput } from '@kvlab/core';
import { LOCK_FILE, WriterLock } from '../../electron/experiments/lock.ts';
import { modelIdFor, RUN_FILE } from '../../electron/host/service.ts';
import type { LabService } from '../../electron/host/service.ts';
import { createInProcessLab } from '../../electron/host/service.ts';
import { testCacheDir } from '../engine/engine-helpers.ts';
import { sharedPath } from '../engine/shared-data.ts';

const MODEL = () => sharedPath('models/stories260K/stories260K.gguf');
const PROMPT = 'Once upon a time, there was a little dog named Max. He liked to play in the park with his friends.';

type Lab = LabService & { onEvent(l: (e: LabEvent) => void): () => void };

/** Calls a handler the way a transport does: raw input → parseInput → handler. */
function call<M extends LabCall>(lab: Lab, method: M, input: LabInput<M>): ReturnType<Lab[M]> {
  return (lab[method] as (i: unknown) => ReturnType<Lab[M]>)(parseInput(method, input));
}

async function rejectsWith(p: Promise<unknown>, code: ApiErrorCode, pattern?: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof ApiError, `an ApiError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    if (pattern) assert.match(e.message, pattern);
    return true;
  });
}

/** Resolves with the first terminal status event of `runId` (subscribe before starting the run). */
function statusOf(lab: Lab, runId: () => string | undefined, terminal: readonly RunStatus[] = ['done', 'cancelled', 'failed']): Promise<RunStatus> {
  return new Promise((resolve) => {
    const off = lab.onEvent((e) => {
      if (e.type === 'run.status' && e.runId === runId() && terminal.includes(e.status)) {
        off();
        resolve(e.status);
      }
    });
  });
}

const tiny = (models: string[], extra: Partial<ExperimentInput> = {}): ExperimentInput => ({
  name: 'tiny niah',
  models,
  methods: ['full', 'snapkv'],
  budgets: ['25%'],
  workloads: [{ kind: 'niah', variant: 'single', contextLengths: [256], depths: [50] }],
  seed: 1,
  generation: { maxNewTokens: 8 },
  engine: { threads: 1 },
  ...extra,
});

describe('lab service on stories260K', () => {
  let results: string;
  let lab: Lab;
  let modelId: string;
  const events: LabEvent[] = [];

  before(() => {
    results = mkdtempSync(join(tmpdir(), 'kvlab-host-'));
    lab = createInProcessLab({ resultsDir: results, defaultModel: MODEL(), cacheDir: testCacheDir(), settings: { threads: 1 } });
    lab.onEvent((e) => events.push(e));
    modelId = modelIdFor(MODEL());
  });
  after(() => lab.close());

  it('lists the default model and gives its card; bad paths are E_NOT_FOUND / E_MODEL naming the file', async () => {
    const info = await call(lab, 'getAppInfo', {});
    assert.equal(info.defaultModelId, modelId);
    assert.equal(info.mode, 'serve');
    assert.deepEqual(
      info.executionProviders.map((p) => p.id),
      [...EXECUTION_PROVIDERS],
    );
    assert.ok(
      info.executionProviders.every((p) => p.available || (p.reason ?? '').length > 0),
      'every unavailable provider says why',
    );
    const models = await call(lab, 'listModels', {});
    assert.deepEqual(
      models.map((m) => [m.id, m.bundled, m.name]),
      [[modelId, true, 'stories260K']],
    );
    const card = await call(lab, 'getModelCard', { modelId });
    assert.equal(card.layers, 5);
    assert.equal(card.kvHeads, 4);
    assert.equal(card.headDim, 8);
    assert.equal(card.vocabSize, 512);
    assert.equal(card.kvBytesPerToken.f32, 2 * 5 * 4 * 8 * 4);
    assert.equal(card.format, 'gguf');

    // Opening a second copy: a new id, a models.changed event; opening it again changes nothing.
    const copy = join(results, '..', `copy-${Date.now()}.gguf`);
    copyFileSync(MODEL(), copy);
    const n = events.length;
    const opened = await call(lab, 'openModel', { path: copy });
    assert.equal(opened.id, modelIdFor(copy));
    assert.equal(opened.bundled, false);
    assert.ok(events.slice(n).some((e) => e.type === 'models.changed'));
    await call(lab, 'openModel', { path: copy });
    assert.equal((await call(lab, 'listModels', {})).length, 2);

    await rejectsWith(call(lab, 'openModel', { path: join(results, 'nope.gguf') }), 'E_NOT_FOUND', /nope\.gguf/);
    const bad = join(results, '..', `bad-${Date.now()}.gguf`);
    writeFileSync(bad, 'GGUF this is not a model');
    await rejectsWith(call(lab, 'openModel', { path: bad }), 'E_MODEL', new RegExp(bad.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
    await rejectsWith(call(lab, 'getModelCard', { modelId: 'feedbeef0000' }), 'E_NOT_FOUND');
  });

  it("playground: a prompt longer than the model's context runs, with a warning that gives the token counts", async () => {
    // stories260K.gguf declares 2,048 tokens of context; this prompt is longer.
    const long = Array.from({ length: 120 }, () => PROMPT).join(' ');
    const r = await call(lab, 'runPlayground', { modelId, prompt: long, maxNewTokens: 1, configs: [] });
    const n = r.results[0]?.promptTokens ?? 0;
    assert.ok(n > 2048, `${n} tokens`);
    assert.equal(r.warnings?.length, 1);
    assert.match(r.warnings?.[0] ?? '', new RegExp(`^The prompt has ${n.toLocaleString('en-US')} tokens, longer than .*context \\(2,048 tokens\\)`));
    const short = await call(lab, 'runPlayground', { modelId, prompt: PROMPT, maxNewTokens: 1, configs: [] });
    assert.equal(short.warnings, undefined);
  });

  it('playground: full vs snapkv at 12 tokens per head — smaller KV, 12 kept positions per head; at 3, raised to 9 with a notice', async () => {
    const r = await call(lab, 'runPlayground', {
      modelId,
      prompt: PROMPT,
      maxNewTokens: 8,
      configs: [
        { method: 'snapkv', budget: '12' },
        { method: 'snapkv', budget: '3' },
      ],
    });
    const [full, snap, tiny] = r.results;
    assert.ok(full && snap && tiny);
    assert.deepEqual(snap.notices, []);
    // SnapKV keeps its 8-token window + 1 per layer: 3 tokens per head is raised to 9, and the bytes say 9.
    assert.equal(tiny.notices?.length, 1);
    assert.match(tiny.notices?.[0] ?? '', /^budget 3\/layer = 15 tokens over 5 layers is below what snapkv\/uniform can keep .*: raised to 45$/);
    assert.deepEqual(tiny.layerBudgets, [9, 9, 9, 9, 9]);
    assert.equal(tiny.kvBytes, 5 * 4 * 9 * 8 * 4 * 2);
    assert.equal(r.tokens.length, full.promptTokens);
    assert.equal(
      r.tokens
        .join('')
        .trim()
        .replace(/^<s>\s*/, ''),
      PROMPT,
    );
    assert.equal(full.label, 'full');
    assert.equal(full.kvBytes, full.fullBytes);
    assert.deepEqual(full.kept, []);
    assert.equal(snap.method, 'snapkv/uniform');
    assert.equal(snap.budget, '12');
    assert.ok(snap.kvBytes < full.kvBytes, `${snap.kvBytes} < ${full.kvBytes}`);
    assert.equal(snap.kvBytes, 5 * 4 * 12 * 8 * 4 * 2);
    assert.equal(snap.kept.length, 5);
    for (const layer of snap.kept) {
      assert.equal(layer.length, 4);
      for (const head of layer) {
        assert.equal(head.length, 12);
        assert.deepEqual(
          [...head].sort((a, b) => a - b),
          head,
        );
        assert.ok(head.every((p) => p >= 0 && p < full.promptTokens));
      }
    }
    assert.deepEqual(snap.layerBudgets, [12, 12, 12, 12, 12]);
    for (const x of r.results) {
      assert.ok(x.generatedTokens > 0 && x.generatedTokens <= 8 && x.text.length > 0);
      assert.ok(x.tokensPerSecond > 0 && x.prefillMs > 0);
    }
    assert.equal((await call(lab, 'listModels', {})).find((m) => m.id === modelId)?.loaded, true);
    // The message is the user's sentence; the field it is about is in details.
    await assert.rejects(
      call(lab, 'runPlayground', { modelId, prompt: PROMPT, configs: [{ method: 'snap/zag', budget: '12' }] }),
      (e: unknown) =>
        e instanceof ApiError &&
        e.code === 'E_INVALID' &&
        /^unknown scorer 'snap'/.test(e.message) &&
        isDeepStrictEqual(e.details, { field: 'configs.0.method' }),
    );
    await assert.rejects(
      call(lab, 'runPlayground', { modelId, prompt: PROMPT, configs: [{ method: 'snapkv', budget: 'lots' }] }),
      (e: unknown) =>
        e instanceof ApiError &&
        e.code === 'E_INVALID' &&
        /^Budget "lots" is not understood: /.test(e.message) &&
        isDeepStrictEqual(e.details, { field: 'configs.0.budget' }),
    );
  });

  it('profiles LMBA/LMBO per layer; uncertainty is LMBA normalised', async () => {
    const p = await call(lab, 'profileModel', { modelId, prompt: PROMPT });
    assert.equal(p.modelId, modelId);
    assert.equal(p.lmba.length, 5);
    assert.equal(p.lmbaPerHead.length, 5);
    assert.equal(p.lmbaPerHead[0]?.length, 8);
    assert.equal(p.lmbo.length, 5);
    assert.ok(Math.abs(p.uncertainty.reduce((a, b) => a + b, 0) - 1) < 1e-9);
    assert.ok(p.lmba.every((v) => v > 0 && v <= p.promptTokens));
  });

  it('refuses a run whose haystack or LongBench file does not exist at once, naming it, and queues nothing', async () => {
    const before = (await call(lab, 'listRuns', {})).length;
    const haystack = tiny([modelId], {
      workloads: [{ kind: 'niah', variant: 'single', contextLengths: [256], depths: [50], haystack: { kind: 'texts', names: ['no-such-novel.txt'] } }],
    });
    await rejectsWith(call(lab, 'startRun', { experiment: haystack }), 'E_NOT_FOUND', /no-such-novel\.txt: text not found/);
    const longbench = tiny([modelId], { workloads: [{ kind: 'longbench', path: 'no-such-dir/qasper.jsonl' }] });
    await rejectsWith(call(lab, 'startRun', { experiment: longbench }), 'E_NOT_FOUND', /no-such-dir\/qasper\.jsonl: LongBench file or folder not found/);
    assert.equal((await call(lab, 'listRuns', {})).length, before);
  });

  it('runs a tiny experiment (model given by id) with events through to done; results and reports', async () => {
    let runId: string | undefined = undefined;
    const done = statusOf(lab, () => runId);
    const n = events.length;
    const s = await call(lab, 'startRun', { name: 'first', experiment: tiny([modelId]) });
    runId = s.id;
    assert.equal(s.status, 'queued');
    assert.deepEqual(s.modelIds, [modelId]);
    assert.equal(await done, 'done');
    const mine = events.slice(n).filter((e) => 'runId' in e && e.runId === runId);
    const statuses = mine.flatMap((e) => (e.type === 'run.status' ? [e.status] : []));
    assert.deepEqual(statuses, ['queued', 'running', 'done']);
    assert.equal(mine.filter((e) => e.type === 'run.row').length, 2, 'one row event per cell');
    assert.ok(mine.some((e) => e.type === 'run.progress' && e.cellsDone === 2 && e.cellsTotal === 2));
    assert.ok(mine.some((e) => e.type === 'run.log'));

    const run = await call(lab, 'getRun', { runId });
    assert.equal(run.status, 'done');
    assert.equal(run.cellsDone, 2);
    assert.equal(run.name, 'first');
    assert.equal(run.experiment.models[0], MODEL());
    assert.ok(run.logs.some((l) => /2 cells/.test(l.message)));
    const res = await call(lab, 'getResults', { runId });
    assert.equal(res.total, 3, 'two cells and the state-leak check');
    assert.deepEqual(res.rows.map((r) => r.kind).sort(), ['cell', 'cell', 'check']);
    assert.equal((await call(lab, 'getResults', { runId, offset: 1, limit: 1 })).rows.length, 1);
    assert.equal((await call(lab, 'listRuns', {}))[0]?.id, runId);

    // getSample rebuilds the prompt the runner prefilled: its token pieces are as many as the row's promptTokens.
    const cell = res.rows.find((r) => r.kind === 'cell');
    assert.ok(cell?.kind === 'cell');
    const sample = await call(lab, 'getSample', { runId, sampleId: cell.sampleId });
    assert.equal(sample.sampleId, cell.sampleId);
    assert.equal(sample.workload, cell.workload);
    assert.equal(sample.tokens.length, cell.promptTokens);
    assert.deepEqual(sample.answers, cell.answers);
    assert.ok(sample.prompt.length > 100 && sample.answers.every((a) => sample.prompt.includes(a)), 'the needle is in the prompt');
    assert.ok(sample.prompt.includes(sample.tokens.slice(1, 6).join('').trim()), 'pieces spell the prompt');
    await rejectsWith(call(lab, 'getSample', { runId, sampleId: 'no-such-sample' }), 'E_NOT_FOUND', /no-such-sample/);
    await rejectsWith(call(lab, 'getSample', { runId: 'nope', sampleId: cell.sampleId }), 'E_NOT_FOUND');

    const html = await call(lab, 'exportReport', { runId, format: 'html' });
    assert.equal(html.encoding, 'utf8');
    assert.equal(html.mimeType, 'text/html');
    assert.equal(html.fileName, 'first.html');
    assert.match(html.data, /<html[\s\S]*tiny niah/);
    const csv = await call(lab, 'exportReport', { runId, format: 'csv' });
    assert.equal(csv.data.trim().split('\n').length, 3, 'header + two cells');
    const json = await call(lab, 'exportReport', { runId, format: 'json' });
    assert.ok(JSON.parse(json.data));
    // No Chromium: a typed error saying so, not a crash.
    const saved = process.env['KVLAB_CHROMIUM'];
    process.env['KVLAB_CHROMIUM'] = join(results, 'no-chromium');
    try {
      await assert.rejects(call(lab, 'exportReport', { runId, format: 'pdf' }), (e: unknown) => {
        assert.ok(e instanceof ApiError && e.code === 'E_NOT_FOUND' && /Chromium/.test(e.message));
        assert.equal((e.details as { reason?: string }).reason, 'chromium-missing');
        return true;
      });
    } finally {
      if (saved === undefined) delete process.env['KVLAB_CHROMIUM'];
      else process.env['KVLAB_CHROMIUM'] = saved;
    }
  });

  it('cancels mid-run keeping finished cells, resumes to the end', async () => {
    let runId: string | undefined = undefined;
    let cancelled: Promise<unknown> | undefined;
    const off = lab.onEvent((e) => {
      if (e.type === 'run.row' && e.runId === runId && !cancelled) cancelled = call(lab, 'cancelRun', { runId });
    });
    const stopped = statusOf(lab, () => runId);
    const exp = tiny([MODEL()], {
      name: 'cancel me',
      methods: ['full', 'snapkv', 'h2o'],
      budgets: ['25%', '50%'],
      workloads: [{ kind: 'niah', variant: 'single', contextLengths: [256], depths: [0, 50, 100] }],
    });
    runId = (await call(lab, 'startRun', { experiment: exp })).id;
    assert.equal(await stopped, 'cancelled');
    const summary = (await cancelled) as { status: RunStatus };
    off();
    assert.equal(summary.status, 'cancelled', 'cancelRun answers once the run has stopped');
    const partial = await call(lab, 'getResults', { runId });
    assert.ok(partial.total >= 1 && partial.total < 15, `kept ${partial.total} finished cells`);

    const finished = statusOf(lab, () => runId);
    const resumed = await call(lab, 'resumeRun', { runId });
    assert.equal(resumed.status, 'queued');
    assert.equal(await finished, 'done');
    const all = await call(lab, 'getResults', { runId });
    assert.equal(all.total, 15 + 1);
    assert.equal(new Set(all.rows.map((r) => r.cellId)).size, all.total, 'no cell ran twice');
    assert.ok((await call(lab, 'getRun', { runId })).logs.some((l) => /already done/.test(l.message)));
  });

  it("obeys a results folder's writer lock: a resume into a folder another process writes fails naming it; reading is never blocked", async () => {
    let runId: string | undefined = undefined;
    let cancelled: Promise<unknown> | undefined;
    const off = lab.onEvent((e) => {
      if (e.type === 'run.row' && e.runId === runId && !cancelled) cancelled = call(lab, 'cancelRun', { runId });
    });
    const stopped = statusOf(lab, () => runId);
    runId = (await call(lab, 'startRun', { experiment: tiny([MODEL()], { name: 'locked', methods: ['full', 'snapkv', 'h2o'] }) })).id;
    assert.equal(await stopped, 'cancelled');
    await cancelled;
    off();
    const { outDir } = await call(lab, 'getRun', { runId });
    assert.equal(existsSync(join(outDir, LOCK_FILE)), false, 'a cancelled run released its lock');
    // Another writer (as `kvlab run --out` on this folder would) holds it; this process's pid is alive, so it is not stale.
    const other = WriterLock.acquire(outDir, { command: 'kvlab run other.json' });
    try {
      const failed = statusOf(lab, () => runId);
      await call(lab, 'resumeRun', { runId });
      assert.equal(await failed, 'failed');
      const run = await call(lab, 'getRun', { runId });
      assert.match(run.error ?? '', new RegExp(`is being written by pid ${process.pid} on host .+ \\(kvlab run other\\.json\\); wait for it or stop it`));
      assert.ok((await call(lab, 'getResults', { runId })).total >= 1, 'the results are readable while another process holds the folder');
    } finally {
      other.release();
    }
    const done = statusOf(lab, () => runId);
    await call(lab, 'resumeRun', { runId });
    assert.equal(await done, 'done');
    assert.equal((await call(lab, 'getResults', { runId })).total, 3 + 1);
    assert.equal(existsSync(join(outDir, LOCK_FILE)), false, 'a finished run released its lock');
  });

  it('a restarted host lists the runs from disk; one left running is cancelled; bad ids are E_NOT_FOUND', async () => {
    const runs = await call(lab, 'listRuns', {});
    const done = runs.find((r) => r.status === 'done');
    assert.ok(done);
    // A folder whose run.json says running: the engine died mid-run.
    const f = JSON.parse(readFileSync(join(results, done.id, RUN_FILE), 'utf8')) as Record<string, unknown>;
    mkdirSync(join(results, 'interrupted-run'));
    writeFileSync(join(results, 'interrupted-run', RUN_FILE), JSON.stringify({ ...f, id: 'interrupted-run', status: 'running' }));
    const again = createInProcessLab({ resultsDir: results, defaultModel: null, cacheDir: testCacheDir() });
    try {
      const listed = await call(again, 'listRuns', {});
      assert.deepEqual(listed.map((r) => r.id).sort(), [...runs.map((r) => r.id), 'interrupted-run'].sort());
      assert.equal(listed.find((r) => r.id === done.id)?.status, 'done');
      assert.equal(listed.find((r) => r.id === 'interrupted-run')?.status, 'cancelled');
      assert.match((await call(again, 'getRun', { runId: 'interrupted-run' })).logs.at(-1)?.message ?? '', /interrupted/);
      assert.equal((await call(again, 'getAppInfo', {})).defaultModelId, null);
      await rejectsWith(call(again, 'getRun', { runId: '../etc' }), 'E_NOT_FOUND');
      await rejectsWith(call(again, 'getResults', { runId: 'nope' }), 'E_NOT_FOUND');
    } finally {
      await again.close();
    }
  });

  it('settings: updates return them all, persist in the settings file, and unload the engine when the provider changes', async () => {
    const settingsFile = join(results, '..', `settings-${Date.now()}`, 'settings.json');
    const a = createInProcessLab({ resultsDir: results, defaultModel: MODEL(), cacheDir: testCacheDir(), settingsFile });
    try {
      assert.deepEqual(await call(a, 'getSettings', {}), { theme: 'system', executionProvider: 'auto', threads: 0, floatWeights: 'auto', kvType: 'f32' });
      assert.deepEqual(await call(a, 'updateSettings', { theme: 'dark' }), {
        theme: 'dark',
        executionProvider: 'auto',
        threads: 0,
        floatWeights: 'auto',
        kvType: 'f32',
      });
      const f32 = await call(a, 'runPlayground', { modelId, prompt: PROMPT, maxNewTokens: 1, configs: [{ method: 'snapkv', budget: '12' }] });
      // The f16 cache: the next load takes it, and every byte figure counts 2 bytes per element.
      await call(a, 'updateSettings', { kvType: 'f16' });
      assert.equal((await call(a, 'listModels', {}))[0]?.loaded, false, 'a new cache type takes effect at the next load');
      const f16 = await call(a, 'runPlayground', { modelId, prompt: PROMPT, maxNewTokens: 1, configs: [{ method: 'snapkv', budget: '12' }] });
      assert.equal(f16.results[1]?.kvBytes, 5 * 4 * 12 * 8 * 2 * 2);
      assert.equal((f16.results[1]?.kvBytes ?? 0) * 2, f32.results[1]?.kvBytes);
      assert.equal((f16.results[0]?.fullBytes ?? 0) * 2, f32.results[0]?.fullBytes);
      await call(a, 'updateSettings', { kvType: 'f32' });
      await call(a, 'runPlayground', { modelId, prompt: PROMPT, maxNewTokens: 1, configs: [] });
      assert.equal((await call(a, 'listModels', {}))[0]?.loaded, true);
      // 'auto' resolved at load, and the app says what it picked and why (no GPU here: the CPU).
      const info = await call(a, 'getAppInfo', {});
      assert.ok(EXECUTION_PROVIDERS.includes(info.executionProvider as never), info.executionProvider);
      assert.match(info.executionProviderReason ?? '', /^auto: /);
      await call(a, 'updateSettings', { threads: 1 });
      assert.equal((await call(a, 'listModels', {}))[0]?.loaded, false, 'a new thread count takes effect at the next load');
    } finally {
      await a.close();
    }
    const b = createInProcessLab({ resultsDir: results, defaultModel: null, settingsFile });
    try {
      assert.deepEqual(await call(b, 'getSettings', {}), { theme: 'dark', executionProvider: 'auto', threads: 1, floatWeights: 'auto', kvType: 'f32' });
    } finally {
      await b.close();
    }
  });
});
