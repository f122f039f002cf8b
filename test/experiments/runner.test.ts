/**
 * The experiment runner end to end on stories260K with the real engine:
 * a sweep of 4 scorers × 3 allocators × 3 budgets (+ full KV) over NIAH and
 * fidelity workloads; one prefill per sample; SIGKILL mid-sweep and resume
 * gives the same rows as an uninterrupted run; shards merge to the full run;
 * cancellation; validation errors.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ExperimentError, WorkloadError } from '@kvlab/core';
import { mergeResults } from '../../electron/experiments/merge.ts';
import type { ResultRow } from '@kvlab/core';
import type { RunEvent } from '../../electron/experiments/runner.ts';
import { runExperiment } from '../../electron/experiments/runner.ts';
import { readRows, RESULTS_FILE, StoreError } from '../../electron/experiments/store.ts';
import { ModelFileError } from '../../electron/engine/model.ts';
import { writeReport } from '../../electron/reports/index.ts';
import { testCacheDir } from '../engine/engine-helpers.ts';
import { sharedPath } from '../engine/shared-data.ts';

const model = () => sharedPath('models/stories260K/stories260K.gguf');
const dir = () => mkdtempSync(join(tmpdir(), 'kvlab-run-'));
const cells = (d: string) => readRows(d).filter((r) => r['kind'] === 'cell') as unknown as ResultRow[];
/** What must be identical between two runs of the same cell (not timings, dates or the commit). */
/** stories260K's K/V bytes per token: 5 layers × 4 KV heads × d 8, K and V as float32. */
const STORIES_F32_KV_PER_TOKEN = 2 * 5 * 4 * 8 * 4;
/** A run refused for want of memory (experiments/memory.ts), with a message matching `re`. */
const tooLarge = (re: RegExp) => (e: unknown) => e instanceof ModelFileError && e.code === 'E_MODEL_TOO_LARGE' && re.test(e.message);
const essence = (r: ResultRow) => ({ cellId: r.cellId, prediction: r.prediction, score: r.score, kv: r.kv, fidelity: r.fidelity, flags: r.flags });

describe('experiment runner on stories260K', () => {
  it('a budget too small for a short prompt is raised, flagged budget-raised, and the kv numbers are what was kept', async () => {
    const out = dir();
    const def = {
      name: 'short',
      models: [model()],
      methods: ['full', 'snapkv/zigzagkv', 'snapkv/pyramidkv+adakv', 'h2o/cake'],
      budgets: ['20%', '100%'],
      workloads: [{ kind: 'fidelity', texts: 'sampled', promptTokens: [12], continuationTokens: 4, samples: 1 }],
      seed: 1,
      engine: { threads: 1 },
    };
    await runExperiment(def, { outDir: out, baseDir: out, cacheDir: testCacheDir() });
    const rows = cells(out);
    assert.equal(rows.length, 1 + 3 * 2);
    for (const r of rows.filter((x) => x.method !== 'full')) {
      const n = r.promptTokens;
      assert.ok(n > 9 && n < 45, `a prompt of ${n} tokens: 20 % is below SnapKV's 9 per layer, the window fits`);
      assert.equal(r.flags.includes('budget-raised'), r.budget === '20%', `${r.cellId}: ${r.flags.join(',')}`);
      assert.equal(r.kv.heldBytes / r.kv.fullBytes, r.kv.nominalRatio, `${r.cellId}: the nominal budget is the raised one`);
      if (r.budget === '20%') {
        // 5 layers × (8-token window + 1) for SnapKV (H2O: 8 recent + 1); CAKE's B_avg > α = 8 needs no more.
        assert.equal(r.kv.nominalTokens, 45, r.cellId);
        assert.ok(!r.flags.includes('budget-covers-prompt'));
      }
    }
  });

  it("samples longer than the model's context: warned at the plan, cut prompts flagged truncated-to-context, uncut ones beyond-context", async () => {
    // stories260K.bin declares a 512-token context (llama2.c seq_len); these samples are longer.
    const out = dir();
    const def = {
      name: 'too-long',
      models: [sharedPath('models/stories260K/stories260K.bin')],
      methods: ['full', 'snapkv/uniform'],
      budgets: ['50%'],
      workloads: [
        { kind: 'niah', variant: 'passkey', contextLengths: [256, 700], depths: [50] },
        { kind: 'fidelity', texts: 'sampled', promptTokens: [520], continuationTokens: 8, samples: 1 },
      ],
      seed: 4,
      engine: { threads: 1 },
    };
    const warnings: string[] = [];
    await runExperiment(def, {
      outDir: out,
      baseDir: out,
      cacheDir: testCacheDir(),
      onEvent: (e) => {
        if (e.type === 'log' && e.level === 'warn') warnings.push(e.message);
      },
    });
    assert.ok(
      warnings.some((w) => /^1 of 3 samples do not fit in .*context \(512 tokens\) with room for the answer: .*'truncated-to-context'/.test(w)),
      warnings.join('\n'),
    );
    assert.ok(
      warnings.some((w) => /^1 of 3 fidelity samples are longer than .*context \(512 tokens\): they are not cut, .*'beyond-context'/.test(w)),
      warnings.join('\n'),
    );
    const rows = cells(out);
    assert.equal(rows.length, 3 * 2);
    for (const r of rows) {
      const long = /c700|fidelity/.test(r.cellId);
      const isFidelity = r.fidelity !== undefined;
      // The 700-token NIAH prompt was cut to fit (so it fits); the fidelity prompt is never cut and runs past 512.
      assert.equal(r.flags.includes('truncated-to-context'), long && !isFidelity, `${r.cellId}: ${r.flags.join(',')}`);
      assert.equal(r.flags.includes('beyond-context'), long && isFidelity, `${r.cellId}: ${r.flags.join(',')}`);
      if (long && !isFidelity) assert.ok(r.promptTokens <= 512, `${r.cellId}: cut to ${r.promptTokens} tokens`);
    }
  });

  it('runs 4 scorers × 3 allocators × 3 budgets + full over NIAH and fidelity, one prefill per sample', async () => {
    const out = dir();
    const scorers = ['snapkv', 'h2o', 'streamingllm', 'tova'];
    const allocators = ['uniform', 'pyramidkv', 'zigzagkv'];
    const def = {
      name: 'sweep',
      models: [model()],
      methods: ['full', ...scorers.flatMap((s) => allocators.map((a) => `${s}/${a}`))],
      budgets: ['20%', '40%', '64'],
      workloads: [
        { kind: 'niah', variant: 'passkey', contextLengths: [256, 384], depths: [20, 80] },
        { kind: 'fidelity', texts: 'sampled', promptTokens: [160], continuationTokens: 24, samples: 2 },
      ],
      seed: 3,
      engine: { threads: 1 },
    };
    const events: string[] = [];
    const summary = await runExperiment(def, {
      outDir: out,
      baseDir: out,
      cacheDir: testCacheDir(),
      // A prefill's progress (prefillProgress) apart from the cells'.
      onEvent: (e) => events.push(e.type === 'progress' && e.current.includes(': prefill ') ? 'prefill' : e.type),
    });
    const groups = 4 + 2;
    const perGroup = 12 * 3 + 1;
    assert.equal(summary.cellsTotal, groups * perGroup);
    assert.equal(summary.cellsRun, groups * perGroup);
    assert.equal(summary.prefills, groups, 'one prefill per sample');
    assert.equal(summary.prefillsSaved, groups * perGroup - groups);
    assert.ok(events.includes('start') && events.filter((e) => e === 'progress').length === groups * perGroup);
    assert.ok(events.filter((e) => e === 'prefill').length >= groups, 'every prefill reports at least its end');

    const rows = cells(out);
    assert.equal(new Set(rows.map((r) => r.cellId)).size, groups * perGroup);
    for (const r of rows) {
      assert.ok(r.provenance.commit && r.model.sha256 === '270cba1bd5109f42d03350f60406024560464db173c0e387d91f0426d3bd256d' && r.provenance.seed === 3);
      if (r.method === 'full') {
        assert.equal(r.kv.heldBytes, r.kv.fullBytes);
        if (r.fidelity) {
          assert.equal(r.fidelity.top1, 1);
          assert.equal(r.fidelity.deltaNll, 0);
          assert.equal(r.fidelity.kl, 0);
        }
      } else {
        // Measured bytes follow the nominal budget exactly (whole tokens per head).
        assert.equal(
          r.kv.heldBytes / r.kv.fullBytes,
          r.kv.nominalRatio,
          `${r.cellId}: measured ${r.kv.heldBytes}/${r.kv.fullBytes} vs nominal ${r.kv.nominalRatio}`,
        );
        assert.ok(!r.flags.includes('not-compressed'));
      }
    }
    // stories260K cannot retrieve (data.md §4.2): the guard must say so on the NIAH baselines.
    assert.ok(rows.filter((r) => r.method === 'full' && r.metric === 'niah').every((r) => r.flags.includes('low-baseline')));
    // Fidelity degrades gracefully: at 20 % some compressed cell disagrees with full, and KL is never negative.
    const fid = rows.filter((r) => r.fidelity && r.method !== 'full');
    assert.ok(fid.some((r) => (r.fidelity?.kl ?? 0) > 0) && fid.every((r) => (r.fidelity?.kl ?? -1) >= -1e-9));
    const zig = rows.find((r) => r.method === 'snapkv/zigzagkv' && r.budget === '20%');
    assert.equal(zig?.lmba?.length, 5, 'ZigZagKV rows carry the per-layer LMBA');
    const leak = readRows(out).find((r) => r['kind'] === 'check');
    assert.equal(leak?.['passed'], true, 'the state-leak check passed');

    const again = await runExperiment(def, { outDir: out, baseDir: out, cacheDir: testCacheDir() });
    assert.equal(again.cellsRun, 0, 'a rerun skips every finished cell');
    assert.equal(again.cellsSkipped, groups * perGroup);

    // The report of this real sweep: HTML with the charts, and a PDF whose text names every method.
    await writeReport(out, 'html', join(out, 'report.html'));
    const html = readFileSync(join(out, 'report.html'), 'utf8');
    assert.equal((html.match(/<svg/g) ?? []).length >= 4, true, 'accuracy, heatmap, per-layer and fidelity charts');
    assert.ok((html.match(/class="cell"/g) ?? []).length >= 2 * 2 * 12 * 3, 'a NIAH heatmap per method and budget (2 depths × 2 lengths)');
    await writeReport(out, 'pdf', join(out, 'report.pdf'));
    const text = execFileSync('pdftotext', [join(out, 'report.pdf'), '-'], { encoding: 'utf8' });
    for (const m of ['snapkv/zigzagkv', 'tova/pyramidkv', 'streamingllm/uniform', '270cba1b']) assert.ok(text.includes(m), `PDF mentions ${m}`);
  });

  it('runs a LongBench-format JSONL file through the same pipeline', async () => {
    const out = dir();
    const ctx = 'Tom had a red kite. '.repeat(20);
    const lines = [
      {
        input: 'What colour was the kite?',
        context: ctx,
        answers: ['red'],
        length: 100,
        dataset: 'multifieldqa_en',
        language: 'en',
        all_classes: null,
        _id: 'a1',
      },
      {
        input: '',
        context: `Paragraph 1: ${ctx}\nParagraph 2: ${ctx}`,
        answers: ['2'],
        length: 200,
        dataset: 'passage_count',
        language: 'en',
        all_classes: null,
        _id: 'a2',
      },
    ];
    writeFileSync(join(out, 'lb.jsonl'), lines.map((l) => JSON.stringify(l)).join('\n'));
    const r = await runExperiment(
      {
        name: 'lb',
        models: [model()],
        methods: ['full', 'snapkv/zigzagkv'],
        budgets: ['50%'],
        workloads: [{ kind: 'longbench', path: 'lb.jsonl' }],
        engine: { threads: 1 },
      },
      { outDir: join(out, 'res'), baseDir: out, cacheDir: testCacheDir() },
    );
    assert.equal(r.cellsRun, 4);
    const rows = cells(join(out, 'res'));
    assert.deepEqual([...new Set(rows.map((x) => x.metric))].sort(), ['count', 'qa_f1']);
    assert.ok(rows.every((x) => x.score >= 0 && x.score <= 1 && x.workload.startsWith('longbench-')));
  });

  it('a sample whose K/V cannot fit stops the run with the figures: before any prefill when the plan states its length, else before its own', async () => {
    const perToken = STORIES_F32_KV_PER_TOKEN;
    const planned = dir();
    const def = {
      name: 'kv-room',
      models: [model()],
      methods: ['full'],
      budgets: ['100%'],
      workloads: [{ kind: 'niah', variant: 'passkey', contextLengths: [256], depths: [50] }],
      engine: { threads: 1 },
    };
    await assert.rejects(
      runExperiment(def, { outDir: planned, baseDir: planned, cacheDir: testCacheDir(), availableMemory: () => 200 * perToken }),
      tooLarge(
        /sample 'niah[^']*' \(\d+ prompt \+ \d+ decoded tokens\) needs about .* of f32 KV cache .* but only 250.0 KiB is available — set "engine": \{ "kvType": "f16" \}/,
      ),
    );
    assert.equal(existsSync(join(planned, RESULTS_FILE)) ? cells(planned).length : 0, 0, 'refused before the first prefill');

    // A LongBench file states no lengths: the short sample runs, the long one is refused at its prefill, and the first one's rows stay.
    const out = dir();
    const line = (id: string, repeat: number) => ({
      input: 'What colour was the kite?',
      context: 'Tom had a red kite. '.repeat(repeat),
      answers: ['red'],
      length: 10,
      dataset: 'multifieldqa_en',
      language: 'en',
      all_classes: null,
      _id: id,
    });
    writeFileSync(join(out, 'lb.jsonl'), [line('short', 2), line('long', 40)].map((l) => JSON.stringify(l)).join('\n'));
    const lb = {
      name: 'lb-room',
      models: [model()],
      methods: ['full'],
      budgets: ['100%'],
      workloads: [{ kind: 'longbench', path: 'lb.jsonl' }],
      engine: { threads: 1, kvType: 'f16' },
    };
    await assert.rejects(
      runExperiment(lb, { outDir: join(out, 'res'), baseDir: out, cacheDir: testCacheDir(), availableMemory: () => 200 * perToken }),
      tooLarge(/sample '[^']*long' \(\d+ prompt \+ \d+ decoded tokens\) needs about .* of f16 KV cache .* available — use shorter samples$/),
    );
    assert.deepEqual(
      cells(join(out, 'res')).map((r) => r.sampleId),
      ['longbench-multifieldqa_en/short'],
    );
  });

  it('a compressed cache built beside the prefill counts: a sample whose prompt and answer fit, but not with 50 % of the prompt beside them, is refused', async () => {
    const perToken = STORIES_F32_KV_PER_TOKEN;
    const def = (methods: string[]) => ({
      name: 'kv-compressed',
      models: [model()],
      methods,
      budgets: ['50%'],
      workloads: [{ kind: 'niah', variant: 'passkey', contextLengths: [200], depths: [50] }],
      generation: { maxNewTokens: 8 },
      engine: { threads: 1 },
    });
    // ~200 prompt + 8 answer tokens fit in 250; the SnapKV cell's cache (~100 tokens + 8) beside the prompt does not.
    const room = { cacheDir: testCacheDir(), availableMemory: () => 250 * perToken };
    const full = dir();
    await runExperiment(def(['full']), { outDir: full, baseDir: full, ...room });
    assert.equal(cells(full).length, 1);
    const both = dir();
    await assert.rejects(
      runExperiment(def(['full', 'snapkv']), { outDir: both, baseDir: both, ...room }),
      tooLarge(/\(\d+ prompt \+ 8 decoded tokens, with a compressed cache of 50 % of the prompt beside it\) needs about/),
    );
  });

  it("a sample's prefill reports its progress before its first cell", async () => {
    const out = dir();
    const events: RunEvent[] = [];
    await runExperiment(
      {
        name: 'prefill-progress',
        models: [model()],
        methods: ['full'],
        budgets: ['100%'],
        workloads: [{ kind: 'niah', variant: 'passkey', contextLengths: [256, 400], depths: [50] }],
        engine: { threads: 1, prefillChunk: 64 },
      },
      { outDir: out, baseDir: out, cacheDir: testCacheDir(), onEvent: (e) => events.push(e) },
    );
    for (const row of cells(out)) {
      const mine = events.flatMap((e) => (e.type === 'progress' && e.current.startsWith(`${row.sampleId}: prefill `) ? [e.current] : []));
      // Chunks of 64 tokens, one event a second at most, and always the last.
      assert.ok(mine.length >= 1, `${row.sampleId}: ${JSON.stringify(mine)}`);
      assert.equal(mine.at(-1), `${row.sampleId}: prefill ${row.promptTokens} of ${row.promptTokens} tokens`);
      const at = events.findIndex((e) => e.type === 'progress' && e.current === mine.at(-1));
      const cell = events.findIndex((e) => e.type === 'cell' && e.row.cellId === row.cellId);
      assert.ok(at < cell, 'the prefill is reported before its cell');
    }
  });

  it("a fidelity sample's planned K/V count its continuation, not the experiment's answer allowance", async () => {
    const perToken = STORIES_F32_KV_PER_TOKEN;
    const out = dir();
    const def = {
      name: 'kv-fidelity-allowance',
      models: [model()],
      methods: ['full'],
      budgets: ['100%'],
      workloads: [{ kind: 'fidelity', texts: 'sampled', promptTokens: [100], continuationTokens: 16, samples: 1 }],
      // The allowance of generated answers; 100 + 400 tokens would not fit in 300.
      generation: { maxNewTokens: 400 },
      engine: { threads: 1 },
    };
    await runExperiment(def, { outDir: out, baseDir: out, cacheDir: testCacheDir(), availableMemory: () => 300 * perToken });
    assert.equal(cells(out).length, 1);
  });

  it("a fidelity sample without room for a copy of its prompt's K/V reads the prefill in place, with the same rows", async () => {
    const perToken = STORIES_F32_KV_PER_TOKEN;
    const def = {
      name: 'kv-in-place',
      models: [model()],
      methods: ['full', 'snapkv', 'h2o/zigzagkv'],
      budgets: ['50%'],
      workloads: [{ kind: 'fidelity', texts: 'sampled', promptTokens: [200], continuationTokens: 40, samples: 1 }],
      seed: 3,
      engine: { threads: 1 },
    };
    const run = async (available?: number) => {
      const out = dir();
      const logs: string[] = [];
      await runExperiment(def, {
        outDir: out,
        baseDir: out,
        cacheDir: testCacheDir(),
        onEvent: (e) => e.type === 'log' && logs.push(e.message),
        ...(available ? { availableMemory: () => available } : {}),
      });
      const checks = readRows(out).filter((r) => r['kind'] === 'check');
      return { rows: cells(out).sort((a, b) => a.cellId.localeCompare(b.cellId)), log: logs.find((m) => m.startsWith('KV cache:')) ?? '', checks };
    };
    const copied = await run();
    // ~200 + 40 tokens and a 50 % compressed cache beside the prompt (100) fit, 2 × 200 + 40 do not.
    const inPlace = await run(400 * perToken);
    assert.match(copied.log, /^KV cache: the largest sample 'fidelity[^']*' holds about .* of f32 K\/V at once; .* is available$/);
    assert.match(inPlace.log, /; 1 fidelity sample\(s\) have no room for a copy .* reads the prefill in place/);
    assert.equal(inPlace.rows.length, 3);
    // The state-leak check re-makes the full cell's prediction as the cell did: 32 greedy tokens of a 40-token continuation.
    for (const r of [copied, inPlace])
      assert.deepEqual(
        r.checks.map((c) => [c['check'], c['passed']]),
        [['state-leak', true]],
        JSON.stringify(r.checks),
      );
    inPlace.rows.forEach((r, i) => {
      const c = copied.rows[i];
      assert.equal(r.cellId, c?.cellId);
      // The greedy text from steps that feed all greedy tokens again: the same tokens.
      assert.equal(r.prediction, c?.prediction, r.cellId);
      const [a, b] = [r.fidelity, c?.fidelity];
      assert.ok(a && b);
      for (const k of ['nll', 'deltaNll', 'kl', 'top1', 'greedyPrefix'] as const)
        assert.ok(Math.abs(a[k] - b[k]) <= 1e-5, `${r.cellId} ${k}: ${a[k]} vs ${b[k]}`);
    });
  });

  const small = (extra: object = {}) => ({
    name: 'small',
    models: [model()],
    methods: ['full', 'snapkv/zigzagkv', 'h2o', 'streamingllm/pyramidkv+adakv'],
    budgets: ['25%', '48'],
    workloads: [
      { kind: 'niah', variant: 'single', contextLengths: [256], depths: [0, 50, 100] },
      { kind: 'fidelity', texts: 'sampled', promptTokens: [128], continuationTokens: 16, samples: 1 },
    ],
    seed: 11,
    engine: { threads: 1 },
    ...extra,
  });

  it('a sweep killed with SIGKILL and resumed produces the same rows as an uninterrupted one', async () => {
    const clean = dir();
    await runExperiment(small(), { outDir: clean, baseDir: clean, cacheDir: testCacheDir() });
    const killed = dir();
    const file = join(killed, 'exp.json');
    writeFileSync(file, JSON.stringify(small()));
    const child = spawn(process.execPath, [join(import.meta.dirname, '../../electron/cli/kvlab.mjs'), 'run', file, '--out', join(killed, 'out')], {
      stdio: 'ignore',
      env: { ...process.env, KVLAB_CACHE: join(testCacheDir(), '..', 'kvlab-cli-cache') },
    });
    const results = join(killed, 'out', RESULTS_FILE);
    const started = Date.now();
    while (!(existsSync(results) && readFileSync(results, 'utf8').split('\n').length > 6)) {
      if (Date.now() - started > 120_000) throw new Error('the child run never produced 5 rows');
      await new Promise((r) => setTimeout(r, 20));
    }
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    const before = cells(join(killed, 'out')).length;
    assert.ok(before >= 5 && before < 4 * 7, `killed mid-sweep after ${before} rows`);
    const resumed = await runExperiment(small(), { outDir: join(killed, 'out'), baseDir: killed, cacheDir: testCacheDir() });
    assert.equal(resumed.cellsSkipped, before);
    const a = cells(clean)
      .map(essence)
      .sort((x, y) => x.cellId.localeCompare(y.cellId));
    const b = cells(join(killed, 'out'))
      .map(essence)
      .sort((x, y) => x.cellId.localeCompare(y.cellId));
    assert.deepEqual(b, a);
  });

  it('a resumed run writes the same state-leak check as an uninterrupted one, also when killed just before it', async () => {
    const clean = dir();
    const def = small({ methods: ['full', 'h2o'] });
    await runExperiment(def, { outDir: clean, baseDir: clean, cacheDir: testCacheDir() });
    const lines = readFileSync(join(clean, RESULTS_FILE), 'utf8').split('\n').filter(Boolean);
    const check = readRows(clean).filter((r) => r['kind'] === 'check');
    assert.equal(check.length, 1);
    // Resumed after the first sample's full cell (so this process never runs it), and after every cell but the check.
    for (const kept of [lines.slice(0, 1), lines.filter((l) => !l.includes('#leak-check'))]) {
      const out = dir();
      writeFileSync(join(out, 'experiment.json'), readFileSync(join(clean, 'experiment.json')));
      writeFileSync(join(out, RESULTS_FILE), kept.map((l) => `${l}\n`).join(''));
      const r = await runExperiment(def, { outDir: out, baseDir: out, cacheDir: testCacheDir() });
      assert.equal(r.cellsSkipped, kept.length);
      const again = readRows(out).filter((x) => x['kind'] === 'check');
      assert.deepEqual(
        again.map((x) => [x.cellId, x['passed']]),
        check.map((x) => [x.cellId, x['passed']]),
      );
    }
  });

  it('shards split the cells without repeating a prefill, and merge back to the full run; foreign shards are refused', async () => {
    const full = dir();
    await runExperiment(small(), { outDir: full, baseDir: full, cacheDir: testCacheDir() });
    const s0 = dir();
    const s1 = dir();
    const r0 = await runExperiment(small(), { outDir: s0, baseDir: s0, cacheDir: testCacheDir(), shard: { index: 0, count: 2 } });
    const r1 = await runExperiment(small(), { outDir: s1, baseDir: s1, cacheDir: testCacheDir(), shard: { index: 1, count: 2 } });
    assert.equal(r0.prefills + r1.prefills, 4);
    const merged = dir();
    mergeResults(merged, [s0, s1]);
    assert.deepEqual(
      cells(merged)
        .map(essence)
        .sort((x, y) => x.cellId.localeCompare(y.cellId)),
      cells(full)
        .map(essence)
        .sort((x, y) => x.cellId.localeCompare(y.cellId)),
    );
    const other = dir();
    await runExperiment(small({ seed: 12, workloads: [{ kind: 'niah', variant: 'single', contextLengths: [256], depths: [50] }], methods: ['full'] }), {
      outDir: other,
      baseDir: other,
      cacheDir: testCacheDir(),
    });
    assert.throws(
      () => mergeResults(dir(), [s0, other]),
      (e: unknown) => e instanceof StoreError && /different experiment/.test(e.message),
    );
  });

  it('cancels between cells, keeps what finished, and resumes', async () => {
    const out = dir();
    const controller = new AbortController();
    let n = 0;
    const r = await runExperiment(small(), {
      outDir: out,
      baseDir: out,
      cacheDir: testCacheDir(),
      signal: controller.signal,
      onEvent: (e) => {
        if (e.type === 'cell' && ++n === 3) controller.abort();
      },
    });
    assert.equal(r.cancelled, true);
    assert.equal(cells(out).length, 3);
    const rest = await runExperiment(small(), { outDir: out, baseDir: out, cacheDir: testCacheDir() });
    assert.equal(rest.cellsSkipped, 3);
    assert.equal(cells(out).length, 4 * 7);
  });

  it('refuses two workloads that produce the same sample ids before running anything; a NIAH "name" tells them apart', async () => {
    const single = { kind: 'niah', variant: 'single', contextLengths: [256], depths: [50] };
    const out = dir();
    await assert.rejects(
      () => runExperiment({ ...small(), methods: ['full'], workloads: [single, { ...single, heldOutTemplates: true }] }, { outDir: out, baseDir: out }),
      (e: unknown) =>
        e instanceof WorkloadError &&
        /workloads\.1 produces sample 'niah-single\/c256\/d50\/s0', as workloads\.0 does/.test(e.message) &&
        /"name"/.test(e.message),
    );
    assert.equal(existsSync(join(out, RESULTS_FILE)) ? cells(out).length : 0, 0, 'nothing ran');
    const named = { ...small(), methods: ['full'], workloads: [single, { ...single, heldOutTemplates: true, name: 'niah-single-heldout' }] };
    const out2 = dir();
    await runExperiment(named, { outDir: out2, baseDir: out2, cacheDir: testCacheDir() });
    assert.deepEqual(
      cells(out2).map((r) => [r.workload, r.sampleId]),
      [
        ['niah-single', 'niah-single/c256/d50/s0'],
        ['niah-single-heldout', 'niah-single-heldout/c256/d50/s0'],
      ],
    );
  });

  it('rejects an invalid experiment with every problem and its place', async () => {
    const bad = { ...small(), methods: ['snapkv/zigzagkv', 'snap', { method: 'zigzagkv', allocator: { tau: 2 } }], budgets: ['20%', 'lots'] };
    await assert.rejects(
      () => runExperiment(bad, { outDir: dir(), baseDir: '.' }),
      (e: unknown) =>
        e instanceof ExperimentError &&
        /methods\.1: unknown scorer 'snap'/.test(e.message) &&
        /methods\.2: tau for 'zigzagkv'/.test(e.message) &&
        /budgets\.1: .*Budget "lots" is not understood/.test(e.message),
    );
  });
});
