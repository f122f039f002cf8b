/**
 * The real experiment runner over the fake engine (test/engine/fake-engine.ts):
 * a whole small experiment — NIAH and fidelity, several methods and budgets,
 * full KV — in well under a second per run, so the runner's bookkeeping is
 * tested without a model: rows written, one prefill per sample, resume skips
 * what is done, cancel stops between cells, progress events arrive, engines
 * are disposed.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { ResultRow } from '@kvlab/core';
import type { RunEvent } from '../../electron/experiments/runner.ts';
import { runExperiment } from '../../electron/experiments/runner.ts';
import { readRows } from '../../electron/experiments/store.ts';
import { fakeOpener } from '../engine/fake-engine.ts';

/** A results folder holding a stand-in model file (the runner hashes the file for provenance). */
function folder(): string {
  const d = mkdtempSync(join(tmpdir(), 'kvlab-run-fake-'));
  writeFileSync(join(d, 'fake.model'), 'a fake model: the opener ignores what is in it');
  return d;
}

const cells = (d: string): ResultRow[] => readRows(d).filter((r) => r['kind'] === 'cell') as unknown as ResultRow[];
const checks = (d: string) => readRows(d).filter((r) => r['kind'] === 'check');

const METHODS = ['full', 'snapkv/zigzagkv', 'h2o', 'streamingllm/pyramidkv+adakv'];
const BUDGETS = ['25%', '48'];
/** 3 NIAH samples + 2 fidelity samples, each with 1 full-KV cell and 3 methods × 2 budgets. */
const SAMPLES = 5;
const CELLS_PER_SAMPLE = 1 + 3 * 2;

const experiment = (extra: object = {}) => ({
  name: 'fake',
  models: ['fake.model'],
  methods: METHODS,
  budgets: BUDGETS,
  workloads: [
    { kind: 'niah', variant: 'single', contextLengths: [512], depths: [0, 50, 100] },
    { kind: 'fidelity', texts: 'sampled', promptTokens: [96], continuationTokens: 12, samples: 2 },
  ],
  // Short answers keep each run to a few hundred fake decode steps.
  generation: { maxNewTokens: 8 },
  seed: 3,
  ...extra,
});

describe('experiment runner over the fake engine', () => {
  it('runs every cell of the plan once, with one prefill per sample, writes complete rows and disposes its engines', async () => {
    const out = folder();
    const opener = fakeOpener();
    const events: RunEvent[] = [];
    const r = await runExperiment(experiment(), { outDir: out, baseDir: out, openModel: opener, onEvent: (e) => events.push(e) });
    const rows = cells(out);
    assert.equal(r.cancelled, false);
    assert.equal(r.cellsTotal, SAMPLES * CELLS_PER_SAMPLE);
    assert.equal(r.cellsRun, SAMPLES * CELLS_PER_SAMPLE);
    assert.equal(rows.length, SAMPLES * CELLS_PER_SAMPLE);
    assert.equal(new Set(rows.map((x) => x.cellId)).size, rows.length, 'no cell is written twice');
    assert.equal(r.prefills, SAMPLES);
    assert.equal(r.prefillsSaved, SAMPLES * (CELLS_PER_SAMPLE - 1));
    // Two engines: one samples the fidelity text with default options, one runs the experiment; both released.
    assert.equal(opener.log.engines.length, 2);
    assert.ok(opener.log.engines.every((e) => e.disposed));
    assert.equal(opener.log.engines[1]?.prefills, SAMPLES + 1, 'one prefill per sample, and one for the state-leak check');
    for (const row of rows) {
      assert.equal(row.model.name, 'fake-0');
      assert.equal(row.kv.layerBudgets.length, 3, `${row.cellId}: one budget per layer`);
      if (row.method === 'full') assert.equal(row.kv.heldBytes, row.kv.fullBytes, row.cellId);
      else if (row.budget === '25%') assert.ok(row.kv.heldBytes < row.kv.fullBytes, `${row.cellId} holds less than the full cache`);
      if (row.metric === 'fidelity') {
        assert.ok(row.fidelity, `${row.cellId} has fidelity metrics`);
        if (row.method === 'full') assert.equal(row.fidelity.kl, 0, 'the full cache is its own reference');
        else assert.ok(Number.isFinite(row.fidelity.nll));
      }
    }
    assert.ok(
      rows.some((x) => x.metric === 'fidelity' && x.method !== 'full' && (x.fidelity?.kl ?? 0) > 0),
      'a compressed cache changes the fake logits',
    );
    assert.equal(checks(out).length, 1, 'the state-leak check ran');
    assert.equal(checks(out)[0]?.['passed'], true);
    // Each NIAH sample's full-KV cell runs last and takes over its prefill's K/V (its first step reads
    // them, not a copy), as does the state-leak check's generation with a prefill of its own; fidelity copies.
    assert.equal(opener.log.engines[1]?.stepsOnPrefillArrays, 3 + 1, 'three NIAH samples and the state-leak check');
    const start = events.find((e) => e.type === 'start');
    assert.deepEqual(start, { type: 'start', cellsTotal: r.cellsTotal, cellsDone: 0, prefills: SAMPLES, prefillsSaved: SAMPLES * (CELLS_PER_SAMPLE - 1) });
    const all = events.filter((e) => e.type === 'progress');
    // The fake prefills a sample in one chunk: one prefill event each (prefillProgress), then one per cell.
    const progress = all.filter((e) => !e.current.includes(': prefill '));
    assert.equal(all.length - progress.length, SAMPLES, 'one prefill event per sample');
    assert.equal(progress.length, rows.length, 'one progress event per cell');
    assert.deepEqual(
      progress.map((e) => e.cellsDone),
      rows.map((_, i) => i + 1),
    );
    assert.equal(events.filter((e) => e.type === 'cell').length, rows.length);
  });

  it('resumes: a second run over the same folder skips every done cell and prefills nothing', async () => {
    const out = folder();
    await runExperiment(experiment(), { outDir: out, baseDir: out, openModel: fakeOpener() });
    const before = cells(out);
    const opener = fakeOpener();
    const again = await runExperiment(experiment(), { outDir: out, baseDir: out, openModel: opener });
    assert.equal(again.cellsRun, 0);
    assert.equal(again.cellsSkipped, SAMPLES * CELLS_PER_SAMPLE);
    assert.equal(again.prefills, 0);
    assert.deepEqual(cells(out), before, 'nothing rewritten');
    assert.equal(opener.log.engines.length, 1, 'only the sampled-text engine starts: nothing is left for an experiment engine to do');
  });

  it('cancels between cells, keeps what finished, and a rerun finishes the rest with the same rows', async () => {
    const clean = folder();
    await runExperiment(experiment(), { outDir: clean, baseDir: clean, openModel: fakeOpener() });
    const out = folder();
    const controller = new AbortController();
    let n = 0;
    const opener = fakeOpener();
    const r = await runExperiment(experiment(), {
      outDir: out,
      baseDir: out,
      openModel: opener,
      signal: controller.signal,
      onEvent: (e) => {
        if (e.type === 'cell' && ++n === 9) controller.abort();
      },
    });
    assert.equal(r.cancelled, true);
    assert.equal(r.cellsRun, 9);
    assert.equal(cells(out).length, 9);
    assert.equal(checks(out).length, 0, 'a cancelled run owes the state-leak check');
    assert.ok(
      opener.log.engines.every((e) => e.disposed),
      'the engine is released on cancel',
    );
    const rest = await runExperiment(experiment(), { outDir: out, baseDir: out, openModel: fakeOpener() });
    assert.equal(rest.cellsSkipped, 9);
    assert.equal(rest.cellsRun, SAMPLES * CELLS_PER_SAMPLE - 9);
    const essence = (x: ResultRow) => ({ cellId: x.cellId, prediction: x.prediction, score: x.score, kv: x.kv, fidelity: x.fidelity, flags: x.flags });
    const byId = (rows: ResultRow[]) => rows.map(essence).sort((a, b) => a.cellId.localeCompare(b.cellId));
    assert.deepEqual(byId(cells(out)), byId(cells(clean)), 'resumed rows equal an uninterrupted run');
    assert.equal(checks(out).length, 1);
  });

  it('shards deal samples so that two slices together are the whole run', async () => {
    const [a, b] = [folder(), folder()];
    const r0 = await runExperiment(experiment(), { outDir: a, baseDir: a, openModel: fakeOpener(), shard: { index: 0, count: 2 } });
    const r1 = await runExperiment(experiment(), { outDir: b, baseDir: b, openModel: fakeOpener(), shard: { index: 1, count: 2 } });
    assert.equal(r0.prefills + r1.prefills, SAMPLES);
    assert.equal(r0.cellsRun + r1.cellsRun, SAMPLES * CELLS_PER_SAMPLE);
    const ids = [...cells(a), ...cells(b)].map((x) => x.cellId);
    assert.equal(new Set(ids).size, ids.length, 'no cell in both slices');
  });
});
