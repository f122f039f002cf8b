/**
 * The whole host over the fake engine (test/engine/fake-engine.ts), through
 * its one injection point, the service's `openModel`: add a model, the
 * Playground, the example builder, the layer profile, a small NIAH run
 * followed through its events to done, its results (a row for every planned
 * cell), a sample rebuilt with the fake's tokenizer, and cancel and resume on
 * a second run. No real model and no onnxruntime: it runs in a few seconds.
 *
 * The model file is a tiny random GGUF (the registry reads its header for
 * the model card and refuses files that are not models); the fake opener
 * ignores what is in it. Every row naming the fake's model ('fake-0', not
 * the file's name) shows that the run went through the injected opener.
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { AnyRow, ExperimentInput, LabEvent, LabInput, LabCall, RunStatus } from '@kvlab/core';
import { ApiError, parseInput } from '@kvlab/core';
import { writeGgufModel } from '../../electron/engine/formats/gguf-model-writer.ts';
import type { LabService } from '../../electron/host/service.ts';
import { createInProcessLab, modelIdFor } from '../../electron/host/service.ts';
import { fakeOpener } from '../engine/fake-engine.ts';
import { randomModel } from '../engine/reference/random-model.ts';

type Lab = LabService & { onEvent(l: (e: LabEvent) => void): () => void };

/** Calls a handler the way a transport does: raw input → parseInput → handler. */
function call<M extends LabCall>(lab: Lab, method: M, input: LabInput<M>): ReturnType<Lab[M]> {
  return (lab[method] as (i: unknown) => ReturnType<Lab[M]>)(parseInput(method, input));
}

/** Resolves with the first terminal status event of `runId` (subscribe before starting the run). */
function statusOf(lab: Lab, runId: () => string | undefined): Promise<RunStatus> {
  return new Promise((resolve) => {
    const off = lab.onEvent((e) => {
      if (e.type === 'run.status' && e.runId === runId() && ['done', 'cancelled', 'failed'].includes(e.status)) {
        off();
        resolve(e.status);
      }
    });
  });
}

/** A tiny random GGUF model file: something the registry's header checks accept. */
function modelFile(dir: string): string {
  const path = join(dir, 'on-disk.gguf');
  const m = randomModel({
    vocab: 96,
    hidden: 16,
    inter: 32,
    layers: 3,
    heads: 4,
    kvHeads: 2,
    headDim: 4,
    qkvBias: false,
    tied: true,
    ropeLayout: 'interleaved',
    ropeTheta: 10000,
    seed: 1,
    contextLength: 1024,
    name: 'on-disk',
  });
  writeGgufModel(path, m);
  return path;
}

/** Written as the rows label them (method/allocator). */
const METHODS = ['full', 'snapkv/uniform', 'h2o/uniform'];
const BUDGETS = ['25%', '16'];
/** Samples × (one full-KV cell + compressed methods × budgets). */
const cellsOf = (samples: number): number => samples * (1 + (METHODS.length - 1) * BUDGETS.length);

const experiment = (modelId: string, extra: Partial<ExperimentInput> = {}): ExperimentInput => ({
  name: 'fake niah',
  models: [modelId],
  methods: METHODS,
  budgets: BUDGETS,
  workloads: [{ kind: 'niah', variant: 'single', contextLengths: [300, 400], depths: [50] }],
  seed: 1,
  generation: { maxNewTokens: 6 },
  ...extra,
});

const cellRows = (rows: readonly AnyRow[]) => rows.flatMap((r) => (r.kind === 'cell' ? [r] : []));

// A host that never reports a run's end fails here instead of hanging the suite (the whole file takes a few seconds).
describe('lab service over the fake engine', { timeout: 60_000 }, () => {
  let dir: string;
  let path: string;
  let modelId: string;
  let lab: Lab;
  const opener = fakeOpener();
  const events: LabEvent[] = [];

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'kvlab-host-fake-'));
    path = modelFile(dir);
    modelId = modelIdFor(path);
    lab = createInProcessLab({ resultsDir: join(dir, 'runs'), defaultModel: null, baseDir: dir, openModel: opener });
    lab.onEvent((e) => events.push(e));
  });
  after(() => lab.close());

  it('adds a model by path without opening it', async () => {
    const card = await call(lab, 'openModel', { path });
    assert.equal(card.id, modelId);
    assert.equal(card.loaded, false);
    assert.deepEqual(
      (await call(lab, 'listModels', {})).map((m) => m.id),
      [modelId],
    );
    assert.equal(opener.log.opened.length, 0, 'nothing is opened before a call needs an engine');
  });

  it('runs the Playground, the example builder and the profile on one fake engine', async () => {
    const prompt = 'The quick brown fox jumps over the lazy dog, and then it rests by the river for a while.';
    const r = await call(lab, 'runPlayground', {
      modelId,
      prompt,
      maxNewTokens: 4,
      configs: [
        { method: 'snapkv', budget: '8' },
        { method: 'h2o', budget: '8' },
      ],
    });
    // The fake's tokenizer: BOS, then one token per character.
    assert.equal(r.tokens.length, prompt.length + 1);
    assert.equal(r.tokens.join(''), prompt);
    assert.deepEqual(
      r.results.map((x) => x.label),
      ['full', 'snapkv', 'h2o'],
    );
    for (const x of r.results) assert.equal(x.generatedTokens, 4, x.label);
    const [full, ...compressed] = r.results;
    assert.equal(full?.kvBytes, full?.fullBytes);
    for (const x of compressed) assert.ok(x.kvBytes < x.fullBytes, `${x.label} holds less than the full cache`);
    assert.equal(compressed[0]?.kept.length, 3, 'kept positions per layer of the fake (3 layers)');
    // The full configuration runs last and takes the prefill's K/V over: its first step reads them where the prefill put them.
    assert.equal(opener.log.engines[0]?.stepsOnPrefillArrays, 1);

    const example = await call(lab, 'playgroundExample', { modelId, contextLength: 400 });
    assert.ok(example.prompt.length > 0);
    const profile = await call(lab, 'profileModel', { modelId, prompt });
    assert.equal(profile.promptTokens, prompt.length + 1);
    assert.equal(profile.lmba.length, 3);

    assert.deepEqual(opener.log.opened, [path], 'one open for the three calls');
    assert.equal(opener.log.engines.length, 1);
    assert.equal((await call(lab, 'listModels', {}))[0]?.loaded, true);
  });

  it('runs a small NIAH experiment through queued/running/done, a row for every planned cell', async () => {
    let runId: string | undefined = undefined;
    const done = statusOf(lab, () => runId);
    const n = events.length;
    const s = await call(lab, 'startRun', { name: 'fake run', experiment: experiment(modelId) });
    runId = s.id;
    assert.equal(s.status, 'queued');
    assert.equal(await done, 'done');

    const mine = events.slice(n).filter((e) => 'runId' in e && e.runId === runId);
    assert.deepEqual(
      mine.flatMap((e) => (e.type === 'run.status' ? [e.status] : [])),
      ['queued', 'running', 'done'],
    );
    const planned = cellsOf(2);
    assert.equal(mine.filter((e) => e.type === 'run.row').length, planned, 'one row event per cell');
    assert.ok(mine.some((e) => e.type === 'run.progress' && e.cellsDone === planned && e.cellsTotal === planned));

    const run = await call(lab, 'getRun', { runId });
    assert.equal(run.status, 'done');
    assert.equal(run.cellsDone, planned);
    assert.equal(run.cellsTotal, planned);
    const res = await call(lab, 'getResults', { runId, limit: 1000 });
    const cells = cellRows(res.rows);
    assert.equal(cells.length, planned);
    assert.equal(res.total, planned + 1, 'the cells and the state-leak check');
    assert.equal(new Set(cells.map((c) => c.cellId)).size, planned, 'no cell written twice');
    for (const c of cells) assert.equal(c.model.name, 'fake-0', `${c.cellId} ran on the injected fake, not the file`);
    const configs = METHODS.flatMap((m) => (m === 'full' ? ['full @ full'] : BUDGETS.map((b) => `${m} @ ${b}`)));
    assert.deepEqual(cells.map((c) => `${c.methodLabel} @ ${c.budget}`).sort(), [...configs, ...configs].sort(), 'every (method, budget) once per sample');
    // The runner opened the model through the same opener, and released the engines it started.
    assert.deepEqual(opener.log.opened, [path, path]);
    assert.ok(opener.log.engines.slice(1).every((e) => e.disposed));
  });

  it("rebuilds a run's sample through the same opener once the session's model is released", async () => {
    const runId = (await call(lab, 'listRuns', {}))[0]?.id ?? '';
    const cell = cellRows((await call(lab, 'getResults', { runId })).rows)[0];
    assert.ok(cell);
    // A settings change releases the session's engine, so getSample must open the model itself.
    await call(lab, 'updateSettings', { floatWeights: 'f32' });
    assert.equal((await call(lab, 'listModels', {}))[0]?.loaded, false);
    const opens = opener.log.opened.length;
    const sample = await call(lab, 'getSample', { runId, sampleId: cell.sampleId });
    assert.equal(opener.log.opened.length, opens + 1);
    assert.equal(opener.log.opened.at(-1), path);
    assert.equal(sample.sampleId, cell.sampleId);
    assert.equal(sample.tokens.length, cell.promptTokens, 'the prompt the runner prefilled');
    // The fake's tokenizer: BOS, then one token per character, whose piece is the character where it is printable.
    assert.equal(sample.tokens.length, sample.prompt.length + 1);
    const printable = (i: number): boolean => /[ -~]/.test(sample.prompt[i] ?? '');
    assert.ok(
      sample.tokens.slice(1).every((piece, i) => !printable(i) || piece === sample.prompt[i]),
      "the fake's pieces spell the prompt",
    );
    assert.ok(sample.answers.length > 0 && sample.answers.every((a) => sample.prompt.includes(a)), 'the needle is in the prompt');
  });

  it('cancels a second run mid-way keeping finished cells, and resumes it to the end', async () => {
    let runId: string | undefined = undefined;
    let cancelled: Promise<unknown> | undefined;
    const off = lab.onEvent((e) => {
      if (e.type === 'run.row' && e.runId === runId && !cancelled) cancelled = call(lab, 'cancelRun', { runId });
    });
    const stopped = statusOf(lab, () => runId);
    const exp = experiment(modelId, { name: 'cancel me', workloads: [{ kind: 'niah', variant: 'single', contextLengths: [300], depths: [0, 50, 100] }] });
    runId = (await call(lab, 'startRun', { experiment: exp })).id;
    assert.equal(await stopped, 'cancelled');
    const summary = (await cancelled) as { status: RunStatus };
    off();
    assert.equal(summary.status, 'cancelled', 'cancelRun answers once the run has stopped');
    const planned = cellsOf(3);
    const partial = cellRows((await call(lab, 'getResults', { runId, limit: 1000 })).rows);
    assert.ok(partial.length >= 1 && partial.length < planned, `kept ${partial.length} of ${planned} cells`);

    const finished = statusOf(lab, () => runId);
    assert.equal((await call(lab, 'resumeRun', { runId })).status, 'queued');
    assert.equal(await finished, 'done');
    const all = cellRows((await call(lab, 'getResults', { runId, limit: 1000 })).rows);
    assert.equal(all.length, planned);
    assert.equal(new Set(all.map((c) => c.cellId)).size, planned, 'no cell ran twice');
    assert.ok((await call(lab, 'getRun', { runId })).logs.some((l) => /already done/.test(l.message)));
  });

  it('close() releases every engine the fake opener started', async () => {
    await lab.close();
    assert.ok(opener.log.engines.length >= 3);
    assert.ok(
      opener.log.engines.every((e) => e.disposed),
      'no engine left open',
    );
  });
});

describe('a prompt or a run whose K/V cannot fit in the memory left once the engine has started', { timeout: 60_000 }, () => {
  it('is refused with the figures: the Playground and the layer profile before their prefill, a run with its status', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kvlab-host-room-'));
    const path = modelFile(dir);
    const lab = createInProcessLab({ resultsDir: join(dir, 'runs'), defaultModel: null, baseDir: dir, openModel: fakeOpener(), availableMemory: () => 4096 });
    try {
      const modelId = (await call(lab, 'openModel', { path })).id;
      // The Playground's SnapKV configuration builds its cache beside the prefill: the figure counts it (experiments/memory.ts).
      const refused =
        (decoded: number, beside = '') =>
        (e: unknown) =>
          e instanceof ApiError &&
          e.code === 'E_MODEL' &&
          new RegExp(
            `the prompt \\(\\d+ prompt \\+ ${decoded} decoded tokens${beside}\\) needs about .* of f32 KV cache .* but only 4\\.0 KiB is available — choose the float16 KV cache in Settings to halve it, or use a shorter prompt`,
          ).test(e.message);
      const prompt = 'The quick brown fox jumps over the lazy dog, and then it rests by the river for a while.';
      await assert.rejects(
        call(lab, 'runPlayground', { modelId, prompt, maxNewTokens: 4, configs: [{ method: 'snapkv', budget: '8' }] }),
        refused(4, ', with a compressed cache of \\d+ % of the prompt beside it'),
      );
      await assert.rejects(call(lab, 'profileModel', { modelId, prompt }), refused(0));

      let runId: string | undefined = undefined;
      const status = statusOf(lab, () => runId);
      runId = (await call(lab, 'startRun', { name: 'too long', experiment: experiment(modelId) })).id;
      assert.equal(await status, 'failed');
      const run = await call(lab, 'getRun', { runId });
      assert.match(
        run.error ?? '',
        /sample 'niah-single\/c\d+\/d50\/s0' \(\d+ prompt \+ 6 decoded tokens, with a compressed cache of \d+ % of the prompt beside it\) needs about .* but only 4\.0 KiB is available — set "engine": \{ "kvType": "f16" \} to halve it, or use shorter samples/,
      );
      assert.equal(cellRows((await call(lab, 'getResults', { runId, limit: 10 })).rows).length, 0);
    } finally {
      await lab.close();
    }
  });
});
