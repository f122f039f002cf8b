/**
 * A typed, in-memory LabApi: the component and store tests run against it, and
 * `?fake` in the URL runs the whole UI on it without an engine (handy for
 * layout work and for the chart helper's screenshots).
 *
 * It behaves like the real host where the UI can tell: inputs are validated
 * with the contract's own `parseInput` (so a bad payload is an E_INVALID
 * ApiError here too), experiments are parsed with core's `parseExperiment`,
 * runs are queued one at a time, emit `run.status` / `run.progress` /
 * `run.row` / `run.log` events cell by cell, can be cancelled and resumed
 * (finished cells kept), and every result row has exactly core's `ResultRow`
 * shape with plausible numbers (scores fall as the budget shrinks, ZigZagKV
 * degrades more gracefully than uniform, measured KV bytes follow the budget).
 *
 * Time is explicit: with `tickMs: null` nothing happens until the test calls
 * `step()`; with a number, a timer steps while a run is active (and stops when
 * idle, so a Node process can exit).
 */
import type {
  AnyRow,
  AppInfo,
  CheckRow,
  ExperimentDef,
  ExperimentInput,
  ExportedFile,
  KvModelShape,
  LabApi,
  LabEvent,
  LabMethod,
  LabOutput,
  LabParsedInput,
  LayerProfile,
  LogLine,
  ModelCard,
  ModelSummary,
  PlaygroundResult,
  ResultRow,
  RunDetail,
  RunSummary,
  Settings,
} from '@kvlab/core';
import {
  ApiError,
  createRng,
  describeMethods,
  playgroundExample,
  isAllocatorId,
  mixSeed,
  fitBudget,
  layerUncertainty,
  parseBudget,
  parseExperiment,
  parseInput,
  parseMethodSpec,
  resolveBudget,
  resolveMethods,
} from '@kvlab/core';
import { sampleGrid, type SampleSketch } from '../util/cost.ts';

export interface FakeLabOptions {
  /** Milliseconds between cells while a run is active; null = only `step()` advances runs (tests). Default 250. */
  readonly tickMs?: number | null;
  /** Models the fake starts with (default: the bundled demo model and stories260K). */
  readonly models?: readonly ModelCard[];
  /** Runs already finished when the fake starts (their rows are generated). Default none. */
  readonly seedRuns?: readonly { readonly name: string; readonly experiment: unknown }[];
  /** Artificial latency of every call, in ms (default 0: resolved on the next microtask). */
  readonly latencyMs?: number;
}

export interface FakeCall {
  readonly method: LabMethod;
  readonly input: unknown;
}

/** The fake: a LabApi plus controls for tests. */
export type FakeLab = LabApi & {
  /** Every call made, in order (inputs as passed, before validation). */
  readonly calls: FakeCall[];
  /** Sends an event to every listener, as the engine would. */
  emit(e: LabEvent): void;
  /** Runs `cells` more cells of the active run (starting queued runs as needed). Returns the cells run. */
  step(cells?: number): number;
  /** Steps until no run is queued or running. */
  drain(): number;
  /** Stops the timer; the fake stays usable with step(). */
  dispose(): void;
  /** Listener count (tests check unsubscribe). */
  listenerCount(): number;
};

// -- Realistic fixtures --------------------------------------------------------

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

const summaryOf = (c: ModelCard): ModelSummary => ({ id: c.id, path: c.path, name: c.name, format: c.format, bundled: c.bundled, loaded: c.loaded });
const shapeOf = (c: ModelCard): KvModelShape => ({ numLayers: c.layers, numKvHeads: c.kvHeads, headDim: c.headDim, dtype: 'float32' });

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
function layerBudgets(spec: string, layers: number, total: number, n: number, seed: number): number[] {
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
function keptPositions(n: number, budget: number, seed: number): number[] {
  if (budget >= n) return Array.from({ length: n }, (_, i) => i);
  const keep = new Set<number>();
  for (let i = 0; i < Math.min(4, budget); i++) keep.add(i);
  for (let i = n - 1; i >= 0 && keep.size < Math.min(budget, 4 + 8); i--) keep.add(i);
  const rng = createRng(seed);
  while (keep.size < budget) keep.add(rng.int(n));
  return [...keep].sort((a, b) => a - b);
}

const FAKE_CONTINUATIONS = [
  ' Once upon a time, there was a little girl named Lily. She loved to play in the park with her red ball.',
  ' The passkey is 71432. Remember it. The grass is green and the sky is blue.',
  ' He looked at the big tree and smiled. "Let us go home," said Mom, and they walked back together.',
];

/**
 * A fake sample's prompt as token pieces: BOS, then `n - 1` word pieces of
 * filler with the passkey sentence at the sample's depth (non-fidelity
 * samples), so tokens.length === row.promptTokens and kept positions index it.
 */
function fakePromptPieces(sample: SampleSketch): string[] {
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

// -- Runs ----------------------------------------------------------------------

interface PlannedCell {
  readonly id: string;
  readonly model: ModelCard;
  readonly modelIndex: number;
  readonly sample: SampleSketch;
  readonly label: string;
  readonly spec: string;
  readonly budget: string;
}

interface FakeRun {
  summary: RunSummary;
  readonly experiment: ExperimentDef;
  readonly hash: string;
  readonly cells: PlannedCell[];
  readonly rows: AnyRow[];
  readonly logs: LogLine[];
  readonly outDir: string;
}

function hashString(s: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return (h >>> 0).toString(16).padStart(8, '0');
}

// eslint-disable-next-line max-lines-per-function -- SHAPE-TODO: split (or give the reason here)
function makeRow(run: FakeRun, cell: PlannedCell, seed: number): ResultRow {
  const m = cell.model;
  const n = cell.sample.promptTokens;
  const shape = shapeOf(m);
  const rng = createRng(mixSeed(seed, parseInt(hashString(cell.id), 16)));
  const full = cell.spec === 'full';
  const resolved = full ? resolveBudget({ kind: 'keepRatio', value: 1 }, shape, n) : resolveBudget(parseBudget(cell.budget), shape, n);
  const keep = resolved.keepRatio;
  const strength = full ? Infinity : methodStrength(cell.spec);
  // Probability of keeping the answer: 1 − (1 − keep)^strength, lowered for needles in the middle (lost-in-the-middle).
  const depth = typeof cell.sample.meta['depth'] === 'number' ? cell.sample.meta['depth'] : 50;
  const middle = 1 - 0.25 * Math.sin((Math.PI * depth) / 100);
  const pKeep = full ? 0.97 : Math.max(0, Math.min(1, (1 - (1 - keep) ** strength) * middle));
  const budgets = full ? Array.from({ length: m.layers }, () => n) : layerBudgets(cell.spec, m.layers, resolved.totalTokens, n, seed);
  const heldPerHead = budgets.map((b) => Array.from({ length: m.kvHeads }, () => Math.min(n, b)));
  const entries = heldPerHead.reduce((a, l) => a + l.reduce((x, y) => x + y, 0), 0);
  const heldBytes = entries * m.headDim * 2 * 4;
  const fullBytes = m.layers * m.kvHeads * n * m.headDim * 2 * 4;
  const fidelity = cell.sample.metric === 'fidelity';
  const deltaNll = full ? 0 : Math.max(0, (1 - pKeep) * 0.9 + 0.02 * rng.normal());
  const kl = full ? 0 : deltaNll * 0.8 + 0.01 * rng.next();
  const top1 = full ? 1 : Math.max(0, Math.min(1, 1 - deltaNll * 0.55));
  const score = fidelity ? top1 : rng.next() < pKeep ? 1 : 0;
  const flags: ResultRow['flags'] = [];
  if (!full && resolved.keepRatio >= 1) flags.push('budget-covers-prompt');
  if (full && !fidelity && score < 0.5) flags.push('low-baseline');
  return {
    kind: 'cell',
    cellId: cell.id,
    experimentHash: run.hash,
    experiment: run.experiment.name,
    model: {
      path: m.path,
      name: m.name,
      sha256: hashString(m.path).repeat(8),
      layers: m.layers,
      kvHeads: m.kvHeads,
      headDim: m.headDim,
      contextLength: m.contextLength,
    },
    workload: cell.sample.workload,
    sampleId: cell.sample.id,
    meta: { ...cell.sample.meta, tokens: n },
    promptTokens: n,
    method: cell.spec,
    methodLabel: cell.label,
    methodParams: full ? {} : { scorer: {}, allocator: {} },
    budget: full ? 'full' : cell.budget,
    metric: cell.sample.metric,
    score,
    prediction: fidelity ? (FAKE_CONTINUATIONS[0] ?? '') : score >= 1 ? 'The passkey is 71432.' : 'The passkey is 7.',
    answers: fidelity ? [] : ['71432'],
    ...(fidelity ? { fidelity: { nll: 1.3 + deltaNll, ppl: Math.exp(1.3 + deltaNll), deltaNll, kl, top1, greedyPrefix: Math.round(top1 * 48) } } : {}),
    kv: {
      layerBudgets: budgets,
      heldPerHead,
      heldBytes,
      slotBytes: heldBytes,
      fullBytes,
      nominalTokens: full ? m.layers * n : resolved.totalTokens,
      nominalRatio: full ? 1 : resolved.keepRatio,
    },
    ...(cell.spec.includes('zigzagkv') ? { lmba: budgets.map((b) => Math.max(1, Math.round(b * 0.8))) } : {}),
    ...(run.experiment.record.kept
      ? { kept: budgets.map((b, l) => Array.from({ length: m.kvHeads }, (_, h) => keptPositions(n, Math.min(n, b), mixSeed(seed, l, h)))) }
      : {}),
    timings: { prefillMs: n * 0.4, compressMs: full ? 0 : 1.5 + rng.next(), decodeMs: 48 * 2.1, decodeTokens: 48 },
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

// -- The fake ------------------------------------------------------------------

// eslint-disable-next-line max-lines-per-function -- SHAPE-TODO: split (or give the reason here)
export function createFakeLab(options: FakeLabOptions = {}): FakeLab {
  const tickMs = options.tickMs === undefined ? 250 : options.tickMs;
  const listeners = new Set<(e: LabEvent) => void>();
  const calls: FakeCall[] = [];
  const models = new Map<string, ModelCard>((options.models ?? [FAKE_DEMO_MODEL, FAKE_STORIES_MODEL]).map((c) => [c.id, c]));
  const runs = new Map<string, FakeRun>();
  let settings: Settings = { theme: 'system', executionProvider: 'cpu', threads: 0, floatWeights: 'auto' };
  let runCounter = 0;
  let timer: ReturnType<typeof setInterval> | null = null;

  const emit = (e: LabEvent): void => {
    for (const l of [...listeners]) l(e);
  };
  const defaultModel = (): ModelCard | undefined => [...models.values()].find((m) => m.bundled) ?? [...models.values()][0];
  const modelOr404 = (id: string): ModelCard => {
    const m = models.get(id);
    if (!m) throw new ApiError('E_NOT_FOUND', `no model with id '${id}'`);
    return m;
  };
  const runOr404 = (id: string): FakeRun => {
    const r = runs.get(id);
    if (!r) throw new ApiError('E_NOT_FOUND', `no run with id '${id}'`);
    return r;
  };
  const log = (run: FakeRun, level: LogLine['level'], message: string): void => {
    const line: LogLine = { time: new Date().toISOString(), level, message };
    run.logs.push(line);
    emit({ type: 'run.log', runId: run.summary.id, line });
  };
  const setStatus = (run: FakeRun, status: RunSummary['status'], error?: string): void => {
    run.summary = { ...run.summary, status, ...(error !== undefined ? { error } : {}) };
    emit({ type: 'run.status', runId: run.summary.id, status, ...(error !== undefined ? { error } : {}) });
  };

  function plan(exp: ExperimentDef): PlannedCell[] {
    const methods = resolveMethods(exp.methods);
    const cells: PlannedCell[] = [];
    exp.models.forEach((path, mi) => {
      const model = [...models.values()].find((m) => m.path === path || m.name === path) ?? {
        ...FAKE_STORIES_MODEL,
        path,
        name: path.split(/[\\/]/).pop() ?? path,
      };
      for (const w of exp.workloads)
        for (const sample of sampleGrid(w).samples)
          for (const m of methods) {
            if (m.config === 'full')
              cells.push({ id: `m${mi}|${sample.id}|${m.label}|full`, model, modelIndex: mi, sample, label: m.label, spec: 'full', budget: 'full' });
            else
              for (const b of exp.budgets)
                cells.push({ id: `m${mi}|${sample.id}|${m.label}|${b}`, model, modelIndex: mi, sample, label: m.label, spec: m.spec, budget: b.trim() });
          }
    });
    return cells;
  }

  function active(): FakeRun | undefined {
    return [...runs.values()].find((r) => r.summary.status === 'running');
  }
  function nextQueued(): FakeRun | undefined {
    // Oldest first: the queue is FIFO.
    return [...runs.values()].filter((r) => r.summary.status === 'queued').sort((a, b) => a.summary.createdAt.localeCompare(b.summary.createdAt))[0];
  }

  function stepOne(): boolean {
    let run = active();
    if (!run) {
      run = nextQueued();
      if (!run) return false;
      setStatus(run, 'running');
      log(run, 'info', `planned ${run.cells.length} cells (${run.summary.cellsDone} already done)`);
    }
    const cell = run.cells[run.summary.cellsDone];
    if (!cell) {
      finish(run);
      return true;
    }
    const row = makeRow(run, cell, mixSeed(run.experiment.seed, run.summary.cellsDone));
    run.rows.push(row);
    const cellsDone = run.summary.cellsDone + 1;
    const tokensPerSecond = 180 + 40 * Math.sin(cellsDone);
    const etaSeconds = ((run.cells.length - cellsDone) * (tickMs ?? 250)) / 1000;
    run.summary = { ...run.summary, cellsDone, tokensPerSecond, etaSeconds };
    emit({ type: 'run.row', runId: run.summary.id, row });
    emit({
      type: 'run.progress',
      runId: run.summary.id,
      cellsDone,
      cellsTotal: run.cells.length,
      tokensPerSecond,
      etaSeconds,
      current: `${cell.sample.id} · ${cell.label} @ ${cell.budget}`,
    });
    if (cellsDone % 10 === 0) log(run, 'info', `${cellsDone}/${run.cells.length} cells`);
    if (cellsDone === run.cells.length) finish(run);
    return true;
  }

  function finish(run: FakeRun): void {
    const first = run.rows.find((r): r is ResultRow => r.kind === 'cell' && r.method === 'full');
    if (first) {
      const check: CheckRow = {
        kind: 'check',
        cellId: `${first.cellId}#leak-check`,
        experimentHash: run.hash,
        experiment: run.experiment.name,
        model: first.model,
        check: 'state-leak',
        passed: true,
        detail: 'the first full-KV cell re-run after all samples gave the same output',
        flags: [],
      };
      run.rows.push(check);
      emit({ type: 'run.row', runId: run.summary.id, row: check });
    }
    run.summary = { ...run.summary, etaSeconds: 0 };
    log(run, 'info', `done: ${run.rows.length} rows`);
    setStatus(run, 'done');
  }

  function step(cellsToRun = 1): number {
    let ran = 0;
    for (let i = 0; i < cellsToRun; i++) {
      if (!stepOne()) break;
      ran++;
    }
    if (!active() && !nextQueued()) stopTimer();
    return ran;
  }

  function startTimer(): void {
    if (tickMs === null || timer) return;
    timer = setInterval(() => step(1), tickMs);
  }
  function stopTimer(): void {
    if (timer) clearInterval(timer);
    timer = null;
  }

  function createRun(name: string | undefined, raw: unknown): FakeRun {
    let exp: ExperimentDef;
    try {
      exp = parseExperiment(raw);
    } catch (e) {
      throw new ApiError('E_INVALID', (e as Error).message, 'issues' in (e as object) ? (e as { issues: unknown }).issues : undefined);
    }
    runCounter++;
    const id = `run-${String(runCounter).padStart(4, '0')}`;
    const cells = plan(exp);
    // createdAt must order runs even when several start within one millisecond.
    const createdAt = new Date(Date.UTC(2026, 10, 28, 12, 0, runCounter)).toISOString();
    const run: FakeRun = {
      summary: {
        id,
        name: name ?? exp.name,
        status: 'queued',
        modelIds: exp.models.map((p) => [...models.values()].find((m) => m.path === p)?.id ?? p),
        cellsDone: 0,
        cellsTotal: cells.length,
        etaSeconds: (cells.length * (tickMs ?? 250)) / 1000,
        tokensPerSecond: 0,
        createdAt,
      },
      experiment: exp,
      hash: hashString(JSON.stringify(exp)),
      cells,
      rows: [],
      logs: [],
      outDir: `/home/user/.local/share/kvlab/runs/${id}`,
    };
    runs.set(id, run);
    return run;
  }

  for (const s of options.seedRuns ?? []) {
    const run = createRun(s.name, s.experiment);
    for (let i = 0; i < run.cells.length; i++) {
      const cell = run.cells[i];
      if (cell) run.rows.push(makeRow(run, cell, mixSeed(run.experiment.seed, i)));
    }
    run.summary = { ...run.summary, status: 'done', cellsDone: run.cells.length, etaSeconds: 0, tokensPerSecond: 190 };
  }

  // A handler answers at once, or later (downloadModel, whose progress events come first).
  type Handlers = { readonly [M in LabMethod]: (input: LabParsedInput<M>) => LabOutput<M> | Promise<LabOutput<M>> };
  const handlers: Handlers = {
    getAppInfo: (): AppInfo => ({
      version: '0.1.0',
      mode: 'serve',
      executionProvider: settings.executionProvider,
      executionProviders: [
        { id: 'cpu', available: true },
        { id: 'cuda', available: false, reason: 'no CUDA device found (fake)' },
      ],
      defaultModelId: defaultModel()?.id ?? null,
      resultsDir: '/home/user/.local/share/kvlab/runs',
    }),
    getSettings: () => settings,
    updateSettings: (patch) => {
      settings = {
        theme: patch.theme ?? settings.theme,
        executionProvider: patch.executionProvider ?? settings.executionProvider,
        threads: patch.threads ?? settings.threads,
        floatWeights: patch.floatWeights ?? settings.floatWeights ?? 'auto',
        kvType: patch.kvType ?? settings.kvType ?? 'f32',
      };
      return settings;
    },
    listModels: () => [...models.values()].map(summaryOf),
    openModel: ({ path }) => {
      const existing = [...models.values()].find((m) => m.path === path);
      if (existing) return existing;
      if (/missing|does-not-exist/.test(path)) throw new ApiError('E_NOT_FOUND', `no such file: ${path}`);
      if (!/\.(gguf|bin)$/i.test(path) && !/[\\/]?[^.\\/]+$/.test(path))
        throw new ApiError('E_MODEL', `${path}: not a GGUF file, Hugging Face folder or llama2.c .bin`);
      const name =
        path
          .split(/[\\/]/)
          .pop()
          ?.replace(/\.(gguf|bin)$/i, '') ?? path;
      const c: ModelCard = {
        ...FAKE_STORIES_MODEL,
        id: `m-${hashString(path)}`,
        path,
        name,
        bundled: false,
        description: `Opened from ${path}`,
        format: path.endsWith('.bin') ? 'llama2c' : path.endsWith('.gguf') ? 'gguf' : 'hf',
      };
      models.set(c.id, c);
      emit({ type: 'models.changed' });
      return c;
    },
    downloadModel: async ({ repo, revision, file }) => {
      // A simulated Hugging Face download: progress in four steps (one macrotask apart), then the model, like the host.
      const f = file ?? '';
      const total = file ? 12_582_912 : 20_971_520;
      const progress = (bytesDone: number, done: boolean, error?: string) =>
        emit({ type: 'model.download', repo, file: f, bytesDone, bytesTotal: total, done, ...(error !== undefined ? { error } : {}) });
      const fail = (e: ApiError): never => {
        progress(0, true, e.message);
        throw e;
      };
      if (/offline/i.test(repo)) fail(new ApiError('E_NOT_FOUND', 'cannot reach huggingface.co: getaddrinfo ENOTFOUND huggingface.co', { reason: 'offline' }));
      if (/missing/i.test(repo)) fail(new ApiError('E_NOT_FOUND', `${repo}@${revision}: no such repo, or it is private (set HF_TOKEN)`));
      progress(0, false);
      for (let i = 1; i <= 4; i++) {
        await new Promise((r) => setTimeout(r, 0));
        progress((total * i) / 4, false);
      }
      const path = `/home/user/.local/share/kvlab/models/${repo.replace('/', '--')}${file ? `/${file}` : ''}`;
      const c: ModelCard = [...models.values()].find((m) => m.path === path) ?? {
        ...FAKE_STORIES_MODEL,
        id: `m-${hashString(path)}`,
        path,
        name: file ? file.slice(file.lastIndexOf('/') + 1).replace(/\.gguf$/i, '') : (repo.split('/')[1] ?? repo),
        bundled: false,
        description: `Downloaded from huggingface.co/${repo}`,
        format: file ? 'gguf' : 'hf',
        fileBytes: total,
      };
      if (!models.has(c.id)) {
        models.set(c.id, c);
        emit({ type: 'models.changed' });
      }
      progress(total, true);
      return c;
    },
    getModelCard: ({ modelId }) => modelOr404(modelId),
    describeMethods: () => describeMethods(),
    runPlayground: (input) => {
      const m = modelOr404(input.modelId);
      const tokens = ['<s>', ...(input.prompt.match(/\s*\S+/g) ?? [input.prompt])];
      const n = tokens.length;
      const fullBytes = m.layers * m.kvHeads * n * m.headDim * 2 * 4;
      const base = { promptTokens: n, generatedTokens: input.maxNewTokens, prefillMs: n * 0.4, fullBytes };
      const full: PlaygroundResult = {
        ...base,
        label: 'full',
        method: 'full',
        budget: 'full',
        text: (FAKE_CONTINUATIONS[0] ?? '').slice(0, input.maxNewTokens * 4),
        tokensPerSecond: 210,
        kvBytes: fullBytes,
        kept: [],
        layerBudgets: Array.from({ length: m.layers }, () => n),
      };
      const results = input.configs.map((cfg, i): PlaygroundResult => {
        let resolved;
        try {
          resolveMethods([cfg.method]);
          const spec = parseMethodSpec(cfg.method);
          // As the engine does: a budget below what the method can keep of this prompt is raised, with a notice.
          resolved = resolveBudget(parseBudget(cfg.budget), shapeOf(m), n);
          if (spec !== 'full') resolved = fitBudget(resolved, spec);
        } catch (e) {
          // As the engine host answers: the user's sentence, the field in details.
          throw new ApiError('E_INVALID', (e as Error).message, { field: `configs.${i}` });
        }
        const budgets = layerBudgets(cfg.method, m.layers, resolved.totalTokens, n, 7 + i);
        const kept = budgets.map((b, l) => Array.from({ length: m.kvHeads }, (_, h) => keptPositions(n, Math.min(n, b), mixSeed(i, l, h))));
        const entries = kept.reduce((a, l) => a + l.reduce((x, k) => x + k.length, 0), 0);
        return {
          ...base,
          label: `${cfg.method} @ ${cfg.budget}`,
          method: cfg.method,
          budget: cfg.budget,
          text: (FAKE_CONTINUATIONS[(i + 1) % FAKE_CONTINUATIONS.length] ?? '').slice(0, input.maxNewTokens * 4),
          tokensPerSecond: 230 + 15 * i,
          kvBytes: entries * m.headDim * 2 * 4,
          kept,
          layerBudgets: budgets,
          notices: resolved.adjusted ? [resolved.adjusted.notice] : [],
        };
      });
      return { tokens, results: [full, ...results] };
    },
    playgroundExample: (input) => {
      modelOr404(input.modelId);
      // The fake's runPlayground splits a prompt into words (its "tokens"), so lengths are counted the same way.
      const counter = { count: (t: string) => (t.match(/\s*\S+/g) ?? []).length };
      return playgroundExample(
        { kind: input.kind, contextLength: input.contextLength, depth: input.depth, template: input.template, seed: input.seed },
        counter,
      );
    },
    profileModel: (input): LayerProfile => {
      const m = modelOr404(input.modelId);
      const n = Math.max(1, input.prompt.split(/\s+/).length + 1);
      const rng = createRng(mixSeed(m.layers, n));
      const lmbaPerHead = Array.from({ length: m.layers }, (_, l) =>
        Array.from({ length: m.heads }, () => Math.max(1, Math.round(n * (0.15 + 0.5 * Math.abs(Math.sin(l * 1.7)) + 0.1 * rng.next())))),
      );
      const lmba = lmbaPerHead.map((hs) => hs.reduce((a, b) => a + b, 0) / hs.length);
      return {
        modelId: m.id,
        promptTokens: n,
        tau: input.tau,
        lmba,
        lmbaPerHead,
        tauO: input.tauO,
        lmbo: lmba.map((x) => Math.min(n, Math.round(x * 1.2))),
        uncertainty: Array.from(layerUncertainty(lmba)),
      };
    },
    startRun: ({ name, experiment }) => {
      const run = createRun(name, experiment);
      emit({ type: 'run.status', runId: run.summary.id, status: 'queued' });
      startTimer();
      return run.summary;
    },
    listRuns: () => [...runs.values()].map((r) => r.summary).sort((a, b) => b.createdAt.localeCompare(a.createdAt)),
    getRun: ({ runId }): RunDetail => {
      const r = runOr404(runId);
      return { ...r.summary, experiment: r.experiment, logs: [...r.logs], outDir: r.outDir };
    },
    cancelRun: ({ runId }) => {
      const r = runOr404(runId);
      if (r.summary.status === 'queued' || r.summary.status === 'running') {
        log(r, 'warn', `cancelled after ${r.summary.cellsDone}/${r.cells.length} cells; finished cells are kept`);
        setStatus(r, 'cancelled');
      }
      return r.summary;
    },
    resumeRun: ({ runId }) => {
      const r = runOr404(runId);
      if (r.summary.status !== 'cancelled' && r.summary.status !== 'failed')
        throw new ApiError('E_BUSY', `run ${runId} is ${r.summary.status}; only cancelled or failed runs resume`);
      setStatus(r, 'queued');
      log(r, 'info', `resumed: ${r.summary.cellsDone} finished cells are skipped`);
      startTimer();
      return r.summary;
    },
    getResults: ({ runId, offset, limit }) => {
      const r = runOr404(runId);
      return { rows: r.rows.slice(offset, offset + limit), total: r.rows.length };
    },
    getSample: ({ runId, sampleId }) => {
      const r = runOr404(runId);
      const cell = r.cells.find((c) => c.sample.id === sampleId);
      if (!cell) throw new ApiError('E_NOT_FOUND', `run '${runId}' has no sample '${sampleId}'`);
      const tokens = fakePromptPieces(cell.sample);
      const fidelity = cell.sample.metric === 'fidelity';
      return { sampleId, workload: cell.sample.workload, prompt: tokens.slice(1).join('').trimStart(), tokens, answers: fidelity ? [] : ['71432'] };
    },
    exportReport: ({ runId, format }): ExportedFile => {
      const r = runOr404(runId);
      const base = r.summary.name.replace(/[^\w.-]+/g, '-').toLowerCase();
      switch (format) {
        case 'json':
          return {
            fileName: `${base}.json`,
            mimeType: 'application/json',
            encoding: 'utf8',
            data: JSON.stringify({ experiment: r.experiment, rows: r.rows }, null, 2),
          };
        case 'csv': {
          const cells = r.rows.filter((x): x is ResultRow => x.kind === 'cell');
          const lines = [
            'model,workload,sample,method,budget,score,held_bytes,full_bytes',
            ...cells.map((c) => [c.model.name, c.workload, c.sampleId, c.methodLabel, c.budget, c.score, c.kv.heldBytes, c.kv.fullBytes].join(',')),
          ];
          return { fileName: `${base}.csv`, mimeType: 'text/csv', encoding: 'utf8', data: `${lines.join('\n')}\n` };
        }
        case 'html':
          return {
            fileName: `${base}.html`,
            mimeType: 'text/html',
            encoding: 'utf8',
            data: `<!doctype html><title>${r.summary.name}</title><h1>${r.summary.name}</h1><p>${r.rows.length} rows</p>`,
          };
        case 'pdf':
          // "%PDF-1.4\n" + a comment: enough for a test to check the bytes were decoded from base64.
          return { fileName: `${base}.pdf`, mimeType: 'application/pdf', encoding: 'base64', data: btoa('%PDF-1.4\n% fake report\n%%EOF\n') };
      }
    },
  };

  const api = {} as Record<LabMethod, (input: unknown) => Promise<unknown>>;
  for (const name of Object.keys(handlers) as LabMethod[]) {
    api[name] = async (input: unknown) => {
      calls.push({ method: name, input });
      if (options.latencyMs) await new Promise((r) => setTimeout(r, options.latencyMs));
      const parsed = parseInput(name, input);
      // JSON round trip: callers must not share objects with the fake's state (the real transports copy too).
      return JSON.parse(JSON.stringify(await (handlers[name] as (i: unknown) => unknown)(parsed))) as unknown;
    };
  }

  return {
    ...(api as unknown as Omit<LabApi, 'onEvent'>),
    onEvent: (listener) => {
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
      };
    },
    calls,
    emit,
    step,
    drain: () => {
      let n = 0;
      while (step(1)) n++;
      return n;
    },
    dispose: stopTimer,
    listenerCount: () => listeners.size,
  };
}

/** A small experiment the fake runs in a few dozen cells (tests and `?fake` demos). */
export const FAKE_SMALL_EXPERIMENT: ExperimentInput = {
  name: 'demo: ZigZagKV vs baselines',
  models: [FAKE_DEMO_MODEL.path],
  methods: ['full', 'snapkv/uniform', 'snapkv/pyramidkv', 'snapkv/zigzagkv'],
  budgets: ['10%', '20%', '40%'],
  workloads: [{ kind: 'niah', variant: 'passkey', contextLengths: [256, 512], depths: [0, 50, 100] }],
};
