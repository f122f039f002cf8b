/**
 * The fake API's invented data: model cards shaped like the real demo model
 * and stories260K, and result rows with core's exact `ResultRow` shape and
 * plausible numbers — scores fall as the budget shrinks, ZigZagKV degrades
 * more gracefully than uniform, measured KV bytes follow the budget, needles
 * in the middle are lost more often. Nothing here plans or runs: fake.ts does,
 * over core's modules.
 */
import type { ExperimentDef, KvModelShape, ModelCard, ModelSummary, ResultRow, Rng, SampleSketch, PlannedSampleCell } from '@kvlab/core';
import { createRng, isAllocatorId, mixSeed, parseBudget, resolveBudget } from '@kvlab/core';

const provenanceBase = {
  appVersion: '0.1.0',
  commit: 'fake000',
  node: 'v20.20.2',
  onnxruntime: '1.30.0',
  machine: { hostname: 'fake-lab', platform: 'linux', release: '6.1.0', arch: 'x64', cpu: 'AMD EPYC (fake)', cpus: 2, memoryBytes: 24 * 2 ** 30 },
} as const;

function card(x: {
  id: string;
  path: string;
  name: string;
  bundled: boolean;
  description: string;
  parameters: number;
  layers: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  contextLength: number;
  vocabSize: number;
  fileBytes: number;
  storedTypes: Record<string, number>;
  metadata: Record<string, string | number>;
}): ModelCard {
  const f32 = x.layers * 2 * x.kvHeads * x.headDim * 4;
  return {
    ...x,
    format: x.path.endsWith('.bin') ? 'llama2c' : x.path.endsWith('.gguf') ? 'gguf' : 'hf',
    loaded: false,
    architecture: 'llama',
    kvBytesPerToken: { f32, f16: f32 / 2 },
    // A sketch of the engine's estimate for a float-stored model: the weights in the graph's form plus runtime.
    estimatedLoadBytes: Math.round(x.parameters * 4 * 1.15),
    ...(Object.keys(x.storedTypes).some((t) => /^(F32|F16|BF16)$/.test(t))
      ? {
          floatWeightEstimates: {
            f32: Math.round(x.parameters * 4 * 1.15),
            q8: Math.round(x.parameters * 1.125 * 1.15),
            q4: Math.round(x.parameters * 0.625 * 1.15),
          },
        }
      : {}),
  };
}

export const FAKE_DEMO_MODEL: ModelCard = card({
  id: 'm-kvlab-demo',
  path: 'build/demo-model/kvlab-demo.gguf',
  name: 'kvlab-demo',
  bundled: true,
  description: 'KV Lab demo model: a 6-layer Llama trained for long-context retrieval (bundled).',
  parameters: 3_900_000,
  layers: 6,
  heads: 6,
  kvHeads: 2,
  headDim: 32,
  contextLength: 2048,
  vocabSize: 4096,
  fileBytes: 15_700_000,
  storedTypes: { F32: 57 },
  metadata: {
    'general.architecture': 'llama',
    'general.name': 'kvlab-demo',
    'general.license': 'MIT',
    'llama.context_length': 2048,
    'llama.rope.freq_base': 10000,
  },
});

export const FAKE_STORIES_MODEL: ModelCard = card({
  id: 'm-stories260k',
  path: '../shared/models/stories260K/stories260K.gguf',
  name: 'stories260K',
  bundled: false,
  description: "Karpathy's 260K-parameter TinyStories Llama (llama2.c tinyllamas).",
  parameters: 260_032,
  layers: 5,
  heads: 8,
  kvHeads: 4,
  headDim: 8,
  contextLength: 512,
  vocabSize: 512,
  fileBytes: 1_185_376,
  storedTypes: { F32: 48 },
  metadata: {
    'general.architecture': 'llama',
    'general.name': 'stories260K',
    'general.license': 'MIT',
    'llama.context_length': 2048,
    'tokenizer.ggml.model': 'llama',
  },
});

export const summaryOf = (c: ModelCard): ModelSummary => ({ id: c.id, path: c.path, name: c.name, format: c.format, bundled: c.bundled, loaded: c.loaded });
export const shapeOf = (c: ModelCard): KvModelShape => ({ numLayers: c.layers, numKvHeads: c.kvHeads, headDim: c.headDim, dtype: 'float32' });

/** How well each layer allocator / scorer holds up under compression (higher: degrades later). Invented but ordered like the paper. */
const QUALITY: Record<string, number> = {
  uniform: 3.2,
  pyramidkv: 3.8,
  zigzagkv: 4.6,
  cake: 4.2,
  snapkv: 1,
  h2o: 0.85,
  tova: 0.9,
  streamingllm: 0.6,
  knorm: 0.5,
  random: 0.35,
  adakv: 1.12,
};

function methodStrength(spec: string): number {
  const [main = '', head] = spec.split('+');
  const parts = main.split('/');
  const scorer = parts.length === 2 ? (parts[0] ?? '') : isAllocatorId(main) ? 'snapkv' : main;
  const allocator = parts.length === 2 ? (parts[1] ?? '') : isAllocatorId(main) ? main : 'uniform';
  return (QUALITY[allocator] ?? 3) * (QUALITY[scorer] ?? 0.8) * (head ? (QUALITY[head] ?? 1) : 1);
}

/** Per-layer budgets (tokens per KV head) summing to `total`, shaped like the allocator would (zig-zag for ZigZagKV, a pyramid for PyramidKV). */
export function layerBudgets(spec: string, layers: number, total: number, n: number, seed: number): number[] {
  const rng = createRng(seed);
  const w = Array.from({ length: layers }, (_, l) => {
    if (spec.includes('zigzagkv')) return 1 + 0.6 * Math.sin(l * 2.2) + 0.2 * rng.next();
    if (spec.includes('pyramidkv')) return 2 - (1.5 * l) / Math.max(1, layers - 1);
    if (spec.includes('cake')) return 0.8 + 0.4 * rng.next();
    return 1;
  });
  const sum = w.reduce((a, b) => a + b, 0);
  const raw = w.map((x) => Math.min(n, Math.max(1, Math.floor((x / sum) * total))));
  let rest = Math.min(total, layers * n) - raw.reduce((a, b) => a + b, 0);
  for (let l = 0; rest > 0 && l < layers * 4; l++) {
    const i = l % layers;
    if ((raw[i] ?? 0) < n) {
      raw[i] = (raw[i] ?? 0) + 1;
      rest--;
    }
  }
  return raw;
}

/** Kept positions of one head: attention sinks, the observation window, then seeded picks — sorted, as the engine reports them. */
export function keptPositions(n: number, budget: number, seed: number): number[] {
  if (budget >= n) return Array.from({ length: n }, (_, i) => i);
  const keep = new Set<number>();
  for (let i = 0; i < Math.min(4, budget); i++) keep.add(i);
  for (let i = n - 1; i >= 0 && keep.size < Math.min(budget, 4 + 8); i--) keep.add(i);
  const rng = createRng(seed);
  while (keep.size < budget) keep.add(rng.int(n));
  return [...keep].sort((a, b) => a - b);
}

export const FAKE_CONTINUATIONS = [
  ' Once upon a time, there was a little girl named Lily. She loved to play in the park with her red ball.',
  ' The passkey is 71432. Remember it. The grass is green and the sky is blue.',
  ' He looked at the big tree and smiled. "Let us go home," said Mom, and they walked back together.',
];

/**
 * A fake sample's prompt as token pieces: BOS, then `n - 1` word pieces of
 * filler with the passkey sentence at the sample's depth (non-fidelity
 * samples), so tokens.length === row.promptTokens and kept positions index it.
 */
export function fakePromptPieces(sample: SampleSketch): string[] {
  const n = Math.max(1, sample.promptTokens);
  const filler = ' The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again.'.match(/\s*\S+/g) ?? [];
  const needle = sample.metric === 'fidelity' ? [] : (' The passkey is 71432. Remember it.'.match(/\s*\S+/g) ?? []);
  const words = Array.from({ length: n - 1 }, (_, i) => filler[i % filler.length] ?? ' x');
  if (needle.length > 0 && words.length >= needle.length) {
    const depth = typeof sample.meta['depth'] === 'number' ? sample.meta['depth'] : 50;
    const at = Math.round(((words.length - needle.length) * depth) / 100);
    words.splice(at, needle.length, ...needle);
  }
  return ['<s>', ...words];
}

// -- Rows ----------------------------------------------------------------------

/** What a row needs of its run. */
export interface RowRun {
  readonly experiment: ExperimentDef;
  readonly hash: string;
  /** The model card of each of the experiment's models, by index. */
  readonly models: readonly ModelCard[];
}

/** A cell of a fake run: core's planned cell over a sketched sample. */
export type FakeCell = PlannedSampleCell<SampleSketch>;

export function hashString(s: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return (h >>> 0).toString(16).padStart(8, '0');
}

/** What a fake cell "measured": how much of the cache it kept, per layer and head, and the chance it kept the answer. */
interface CellKv {
  readonly full: boolean;
  readonly spec: string;
  readonly n: number;
  readonly keepRatio: number;
  readonly totalTokens: number;
  readonly pKeep: number;
  readonly budgets: number[];
  readonly heldPerHead: number[][];
}

function cellKv(m: ModelCard, cell: FakeCell, seed: number): CellKv {
  const n = cell.sample.promptTokens;
  const full = cell.method.config === 'full';
  const spec = full ? 'full' : cell.method.spec;
  const resolved = resolveBudget(full ? { kind: 'keepRatio', value: 1 } : parseBudget(cell.budget.text), shapeOf(m), n);
  // Probability of keeping the answer: 1 − (1 − keep)^strength, lowered for needles in the middle (lost-in-the-middle).
  const depth = typeof cell.sample.meta['depth'] === 'number' ? cell.sample.meta['depth'] : 50;
  const middle = 1 - 0.25 * Math.sin((Math.PI * depth) / 100);
  const pKeep = full ? 0.97 : Math.max(0, Math.min(1, (1 - (1 - resolved.keepRatio) ** methodStrength(spec)) * middle));
  const budgets = full ? Array.from({ length: m.layers }, () => n) : layerBudgets(spec, m.layers, resolved.totalTokens, n, seed);
  const heldPerHead = budgets.map((b) => Array.from({ length: m.kvHeads }, () => Math.min(n, b)));
  return { full, spec, n, keepRatio: resolved.keepRatio, totalTokens: resolved.totalTokens, pKeep, budgets, heldPerHead };
}

/** The row's score, prediction and fidelity figures: a coin weighted by pKeep, or top-1 agreement falling with ΔNLL. */
function cellOutcome(kv: CellKv, fidelity: boolean, rng: Rng): Pick<ResultRow, 'score' | 'prediction' | 'answers' | 'fidelity'> {
  const deltaNll = kv.full ? 0 : Math.max(0, (1 - kv.pKeep) * 0.9 + 0.02 * rng.normal());
  const kl = kv.full ? 0 : deltaNll * 0.8 + 0.01 * rng.next();
  const top1 = kv.full ? 1 : Math.max(0, Math.min(1, 1 - deltaNll * 0.55));
  const score = fidelity ? top1 : rng.next() < kv.pKeep ? 1 : 0;
  return {
    score,
    prediction: fidelity ? (FAKE_CONTINUATIONS[0] ?? '') : score >= 1 ? 'The passkey is 71432.' : 'The passkey is 7.',
    answers: fidelity ? [] : ['71432'],
    ...(fidelity ? { fidelity: { nll: 1.3 + deltaNll, ppl: Math.exp(1.3 + deltaNll), deltaNll, kl, top1, greedyPrefix: Math.round(top1 * 48) } } : {}),
  };
}

function rowKv(m: ModelCard, kv: CellKv): ResultRow['kv'] {
  const entries = kv.heldPerHead.reduce((a, l) => a + l.reduce((x, y) => x + y, 0), 0);
  const heldBytes = entries * m.headDim * 2 * 4;
  return {
    layerBudgets: kv.budgets,
    heldPerHead: kv.heldPerHead,
    heldBytes,
    slotBytes: heldBytes,
    fullBytes: m.layers * m.kvHeads * kv.n * m.headDim * 2 * 4,
    nominalTokens: kv.full ? m.layers * kv.n : kv.totalTokens,
    nominalRatio: kv.full ? 1 : kv.keepRatio,
  };
}

const rowModel = (m: ModelCard): ResultRow['model'] => ({
  path: m.path,
  name: m.name,
  sha256: hashString(m.path).repeat(8),
  layers: m.layers,
  kvHeads: m.kvHeads,
  headDim: m.headDim,
  contextLength: m.contextLength,
});

/** A result row with core's exact shape and plausible numbers (see the file's header). */
export function makeRow(run: RowRun, cell: FakeCell, seed: number): ResultRow {
  const m = run.models[cell.modelIndex] ?? FAKE_STORIES_MODEL;
  const kv = cellKv(m, cell, seed);
  const fidelity = cell.sample.metric === 'fidelity';
  // One stream per cell: the outcome's draws first, then the compression time's.
  const rng = createRng(mixSeed(seed, parseInt(hashString(cell.id), 16)));
  const outcome = cellOutcome(kv, fidelity, rng);
  const flags: ResultRow['flags'] = [];
  if (!kv.full && kv.keepRatio >= 1) flags.push('budget-covers-prompt');
  if (kv.full && !fidelity && outcome.score < 0.5) flags.push('low-baseline');
  return {
    kind: 'cell',
    cellId: cell.id,
    experimentHash: run.hash,
    experiment: run.experiment.name,
    model: rowModel(m),
    workload: cell.sample.workload,
    sampleId: cell.sample.id,
    meta: { ...cell.sample.meta, tokens: kv.n },
    promptTokens: kv.n,
    method: kv.spec,
    methodLabel: cell.method.label,
    methodParams: kv.full ? {} : { scorer: {}, allocator: {} },
    budget: kv.full ? 'full' : cell.budget.text,
    metric: cell.sample.metric,
    ...outcome,
    kv: rowKv(m, kv),
    ...(kv.spec.includes('zigzagkv') ? { lmba: kv.budgets.map((b) => Math.max(1, Math.round(b * 0.8))) } : {}),
    ...(run.experiment.record.kept
      ? { kept: kv.budgets.map((b, l) => Array.from({ length: m.kvHeads }, (_, h) => keptPositions(kv.n, Math.min(kv.n, b), mixSeed(seed, l, h)))) }
      : {}),
    timings: { prefillMs: kv.n * 0.4, compressMs: kv.full ? 0 : 1.5 + rng.next(), decodeMs: 48 * 2.1, decodeTokens: 48 },
    flags,
    provenance: {
      ...provenanceBase,
      executionProvider: run.experiment.engine.executionProvider,
      threads: run.experiment.engine.threads ?? 2,
      seed: run.experiment.seed,
      date: new Date(0).toISOString(),
    },
  };
}
