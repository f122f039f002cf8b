/**
 * A results folder written by hand for the report tests: every number is
 * a closed formula of the method, budget and sample, so the tests can check
 * aggregates against hand arithmetic rather than against the code under test.
 *
 *   model      tiny-llama: 4 layers, 2 KV heads, head dim 8, f32 → 512 B of K+V per prompt token
 *   methods    full (budget "full"), snapkv/uniform, snapkv/pyramidkv, and
 *              snapkv/zigzagkv labelled 'ZigZag, "quoted" <b>' (commas,
 *              quotes and markup in a label: CSV quoting and HTML escaping)
 *   budgets    10%, 25%, 50%
 *   niah       niah-single: depths 0/50/100 × context lengths 256/512, one
 *              sample per cell, prompt = length + 20 tokens;
 *              score = ((m + b + d + l) mod 3) / 2 · (b + 1) / 3 for method m,
 *              budget b, depth index d, length index l (indices from 0); full scores 1
 *   fidelity   2 samples of 256 tokens; ΔNLL = (1 − pct) · (m + 1) · 0.1 + 0.01 · s,
 *              KL = ΔNLL / 2, top-1 = score = 1 − ΔNLL
 *   KV         b = round(pct · prompt) tokens per head and layer; held bytes
 *              = b · 512 (uniform, zigzag), b · 512 + 2048 (pyramid: padding);
 *              the zigzag cell at 10 %, depth 0, length 256 is flagged
 *              not-compressed and holds the full cache
 *   + one profile row, one failed state-leak check row
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CheckRow, ProfileRow, ResultRow } from '@kvlab/core';
import type { StoredExperiment } from '../../electron/experiments/store.ts';

const made: string[] = [];
process.on('exit', () => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

/** A fresh temporary folder, removed when the test process exits. */
export function tempDir(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), `kvlab-${prefix}-`));
  made.push(d);
  return d;
}

export const HASH = 'fixture-hash-0123456789abcdef';
export const MODEL: ResultRow['model'] = {
  path: '/models/tiny-llama.gguf',
  name: 'tiny-llama',
  sha256: '5e1f3a9c0b7d2e4f6a8c1b3d5e7f9a0b2c4d6e8f0a1b3c5d7e9f1a2b4c6d8e0f',
  layers: 4,
  kvHeads: 2,
  headDim: 8,
};
export const BYTES_PER_TOKEN = 4 * 2 * 2 * 8 * 4;
export const COMMIT = 'c0ffee1234567890abcdef1234567890abcdef12';
export const HOST = 'lab-box-7';

export const METHODS = [
  { method: 'snapkv/uniform', label: 'snapkv/uniform' },
  { method: 'snapkv/pyramidkv', label: 'snapkv/pyramidkv' },
  { method: 'snapkv/zigzagkv', label: 'ZigZag, "quoted" <b>' },
] as const;
export const BUDGETS = [
  { text: '10%', pct: 0.1 },
  { text: '25%', pct: 0.25 },
  { text: '50%', pct: 0.5 },
] as const;
export const DEPTHS = [0, 50, 100] as const;
export const LENGTHS = [256, 512] as const;
export const ZIGZAG_LMBA = [40, 10, 25, 5];

export const EXPERIMENT: StoredExperiment = {
  hash: HASH,
  definition: {
    name: 'Report fixture, "sweep" <1>',
    description: 'Hand-written rows for the report tests.',
    models: [MODEL.path],
    methods: ['full', 'snapkv/uniform', 'snapkv/pyramidkv', { method: 'snapkv/zigzagkv', label: 'ZigZag, "quoted" <b>' }],
    budgets: ['10%', '25%', '50%'],
    workloads: [
      { kind: 'niah', contextLengths: [...LENGTHS], depths: [...DEPTHS] },
      { kind: 'fidelity', promptTokens: [256], continuationTokens: 16, samples: 2 },
    ],
    seed: 7,
  },
  createdAt: '2026-09-01T09:59:00.000Z',
};

let seq = 0;
const provenance = (): ResultRow['provenance'] => ({
  appVersion: '0.1.0',
  commit: COMMIT,
  node: 'v20.20.2',
  onnxruntime: '1.30.0',
  machine: { hostname: HOST, platform: 'linux', release: '6.1.0', arch: 'x64', cpu: 'Test CPU @ 3.0GHz', cpus: 16, memoryBytes: 64 * 1024 ** 3 },
  executionProvider: 'cpu',
  threads: 8,
  seed: 7,
  date: new Date(Date.UTC(2026, 8, 1, 10, 0, seq++)).toISOString(),
});

function layerBudgets(methodIdx: number, b: number): number[] {
  if (methodIdx === 0) return [b, b, b, b];
  if (methodIdx === 1) return [1.5, 1.2, 0.8, 0.5].map((f) => Math.round(f * b));
  return [1.3, 0.7, 1.2, 0.8].map((f) => Math.round(f * b));
}

interface CellInput {
  readonly methodIdx: number; // −1 = full
  readonly budgetIdx: number; // −1 = full
  readonly workload: string;
  readonly sampleId: string;
  readonly meta: Record<string, number | string | boolean>;
  readonly promptTokens: number;
  readonly score: number;
  readonly prediction: string;
  readonly answers: string[];
  readonly metric: string;
  readonly fidelity?: ResultRow['fidelity'];
}

function cellRow(c: CellInput): ResultRow {
  const full = c.methodIdx < 0;
  const m = METHODS[c.methodIdx];
  const bud = BUDGETS[c.budgetIdx];
  const fullBytes = c.promptTokens * BYTES_PER_TOKEN;
  const b = full || !bud ? c.promptTokens : Math.round(bud.pct * c.promptTokens);
  const lb = full ? [b, b, b, b] : layerBudgets(c.methodIdx, b);
  let held = full ? fullBytes : b * BYTES_PER_TOKEN + (c.methodIdx === 1 ? 2048 : 0);
  const flags: ResultRow['flags'] = [];
  if (c.methodIdx === 2 && c.budgetIdx === 0 && c.meta['depth'] === 0 && c.meta['contextLength'] === 256) {
    held = fullBytes;
    flags.push('not-compressed');
  }
  const method = full ? 'full' : (m?.method ?? '');
  const budget = full ? 'full' : (bud?.text ?? '');
  return {
    kind: 'cell',
    cellId: `${MODEL.name}|${c.workload}|${c.sampleId}|${method}|${budget}`,
    experimentHash: HASH,
    experiment: 'Report fixture',
    model: MODEL,
    workload: c.workload,
    sampleId: c.sampleId,
    meta: c.meta,
    promptTokens: c.promptTokens,
    method,
    methodLabel: full ? 'full' : (m?.label ?? ''),
    methodParams: full ? null : { scorer: { windowSize: 8 } },
    budget,
    metric: c.metric,
    score: c.score,
    prediction: c.prediction,
    answers: c.answers,
    ...(c.fidelity ? { fidelity: c.fidelity } : {}),
    kv: {
      layerBudgets: lb,
      heldPerHead: lb.map((x) => [x, x]),
      heldBytes: held,
      slotBytes: held,
      fullBytes,
      nominalTokens: full ? c.promptTokens * 4 : b * 4,
      nominalRatio: full ? 1 : b / c.promptTokens,
    },
    ...(c.methodIdx === 2 ? { lmba: ZIGZAG_LMBA } : {}),
    timings: { prefillMs: 12.5, compressMs: full ? 0 : 1.25, decodeMs: 30, decodeTokens: 8 },
    flags,
    provenance: provenance(),
  };
}

/** The NIAH score formula of the fixture. */
export const niahScore = (m: number, b: number, d: number, l: number): number => ((((m + b + d + l) % 3) / 2) * (b + 1)) / 3;
/** The fidelity ΔNLL formula of the fixture. */
export const deltaNll = (m: number, pct: number, s: number): number => (1 - pct) * (m + 1) * 0.1 + 0.01 * s;

export function fixtureRows(): (ResultRow | ProfileRow | CheckRow)[] {
  seq = 0;
  const rows: (ResultRow | ProfileRow | CheckRow)[] = [];
  const combos: [number, number][] = [[-1, -1]];
  for (let m = 0; m < METHODS.length; m++) for (let b = 0; b < BUDGETS.length; b++) combos.push([m, b]);
  for (const [m, b] of combos) {
    DEPTHS.forEach((depth, d) =>
      LENGTHS.forEach((len, l) => {
        const score = m < 0 ? 1 : niahScore(m, b, d, l);
        rows.push(
          cellRow({
            methodIdx: m,
            budgetIdx: b,
            workload: 'niah-single',
            sampleId: `niah-single/c${len}/d${depth}/s0`,
            meta: { depth, contextLength: len, tokens: len + 20, variant: 'single' },
            promptTokens: len + 20,
            score,
            prediction: `The needle is "blue-42", at depth ${depth}%,\nsaid the model`,
            answers: ['blue-42'],
            metric: 'niah',
          }),
        );
      }),
    );
    for (let s = 0; s < 2; s++) {
      const pct = b < 0 ? 1 : (BUDGETS[b]?.pct ?? 1);
      const dn = m < 0 ? 0 : deltaNll(m, pct, s);
      rows.push(
        cellRow({
          methodIdx: m,
          budgetIdx: b,
          workload: 'fidelity',
          sampleId: `fidelity/p256/s${s}`,
          meta: { tokens: 256, text: 'austen-emma.txt' },
          promptTokens: 256,
          score: 1 - dn,
          prediction: '',
          answers: [],
          metric: 'fidelity',
          fidelity: { nll: 2 + dn, ppl: Math.exp(2 + dn), deltaNll: dn, kl: dn / 2, top1: 1 - dn, greedyPrefix: Math.round((1 - dn) * 16) },
        }),
      );
    }
  }
  rows.push({
    kind: 'profile',
    cellId: `${MODEL.name}|profile|fidelity/p256/s0`,
    experimentHash: HASH,
    experiment: 'Report fixture',
    model: MODEL,
    workload: 'fidelity',
    sampleId: 'fidelity/p256/s0',
    promptTokens: 256,
    tau: 0.9,
    lmba: [38, 12, 24, 6],
    lmbaPerHead: [38, 12, 24, 6].map((x) => [x, x, x, x]),
    tauO: 0.95,
    lmbo: [30, 10, 20, 4],
    lmboCurves: [],
    provenance: provenance(),
  });
  rows.push({
    kind: 'check',
    cellId: `${MODEL.name}|check|state-leak`,
    experimentHash: HASH,
    experiment: 'Report fixture',
    model: MODEL,
    check: 'state-leak',
    passed: false,
    detail: 'niah-single/c256/d0/s0 differed on the re-run',
    flags: ['state-leak'],
  });
  return rows;
}

/** Writes experiment.json and results.jsonl into a fresh temporary folder (or `dir`) and returns it. */
export function writeResultsFolder(rows: readonly object[] = fixtureRows(), experiment: StoredExperiment = EXPERIMENT, dir?: string): string {
  const d = dir ?? tempDir('report');
  mkdirSync(d, { recursive: true });
  writeFileSync(join(d, 'experiment.json'), JSON.stringify(experiment, null, 2));
  writeFileSync(join(d, 'results.jsonl'), rows.map((r) => `${JSON.stringify(r)}\n`).join(''));
  return d;
}

/** A test-only RFC 4180 parser (independent of the writer under test). */
export function parseCsv(text: string): string[][] {
  const out: string[][] = [];
  let row: string[] = [];
  let field = '';
  let i = 0;
  let quoted = false;
  while (i < text.length) {
    const ch = text[i] as string;
    if (quoted) {
      if (ch === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i += 2;
          continue;
        }
        quoted = false;
        i++;
        continue;
      }
      field += ch;
      i++;
      continue;
    }
    if (ch === '"') {
      if (field !== '') throw new Error(`quote inside an unquoted field at ${i}`);
      quoted = true;
    } else if (ch === ',') {
      row.push(field);
      field = '';
    } else if (ch === '\r' && text[i + 1] === '\n') {
      row.push(field);
      out.push(row);
      row = [];
      field = '';
      i++;
    } else if (ch === '\n' || ch === '\r') {
      throw new Error(`bare line break outside quotes at ${i}`);
    } else field += ch;
    i++;
  }
  if (quoted) throw new Error('unterminated quoted field');
  if (field !== '' || row.length) {
    row.push(field);
    out.push(row);
  }
  return out;
}
