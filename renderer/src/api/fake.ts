/**
 * A typed, in-memory LabApi: the component and store tests run against it, and
 * `?fake` in the URL runs the whole UI on it without an engine (handy for
 * layout work and screenshots).
 *
 * It behaves like the real host where the UI can tell, because it is a thin
 * API object over core's pure modules rather than a second implementation:
 * inputs are validated with the contract's own `parseInput` (so a bad payload
 * is an E_INVALID ApiError here too), experiments are parsed with core's
 * `parseExperiment`, expanded into samples by the workload registry's sketches
 * and into cells by `planCells` (the runner's cell ids), and runs move through
 * run-status.ts's transitions. Runs are queued one at a time, emit
 * `run.status` / `run.progress` / `run.row` / `run.log` events cell by cell,
 * can be cancelled and resumed (finished cells kept), and every result row has
 * exactly core's `ResultRow` shape with invented but plausible numbers
 * (fake-data.ts).
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
  LabApi,
  LabEvent,
  LabCall,
  LabOutput,
  LabParsedInput,
  LayerProfile,
  LogLine,
  ModelCard,
  PlaygroundResult,
  ProgressCall,
  ResultRow,
  RunStatus,
  RunDetail,
  RunSummary,
  Settings,
} from '@kvlab/core';
import {
  afterCell,
  modelFormat,
  recogniseModelFile,
  unreadableModelMessage,
  ApiError,
  canTransition,
  createRng,
  describeMethods,
  playgroundExample,
  leakCheckId,
  mixSeed,
  fitBudget,
  formatOfTotal,
  layerUncertainty,
  nextQueued,
  parseBudget,
  parseExperiment,
  parseInput,
  parseMethodSpec,
  planCells,
  resolveBudget,
  resolveBudgets,
  resolveMethods,
  sketchWorkload,
  withStatus,
} from '@kvlab/core';
import {
  FAKE_CONTINUATIONS,
  FAKE_DEMO_MODEL,
  FAKE_STORIES_MODEL,
  fakePromptPieces,
  hashString,
  keptPositions,
  layerBudgets,
  makeRow,
  shapeOf,
  summaryOf,
  type FakeCell,
} from './fake-data.ts';

export { FAKE_DEMO_MODEL, FAKE_STORIES_MODEL } from './fake-data.ts';

export interface FakeLabOptions {
  /** Milliseconds between cells while a run is active; null = only `step()` advances runs (tests). Default 250. */
  readonly tickMs?: number | null;
  /** Models the fake starts with (default: the bundled demo model and stories260K). */
  readonly models?: readonly ModelCard[];
  /** Runs already finished when the fake starts (their rows are generated). Default none. */
  readonly seedRuns?: readonly { readonly name: string; readonly experiment: unknown }[];
  /** Artificial latency of every call, in ms (default 0: resolved on the next microtask). */
  readonly latencyMs?: number;
  /**
   * runPlayground and profileModel given a requestId report half their prefill (call.progress), and downloadModel a
   * quarter of its bytes, then wait for releaseLongCalls() or cancelCall (tests of the progress lines and the Cancel
   * buttons). Default false: they answer at once.
   */
  readonly holdLongCalls?: boolean;
}

export interface FakeCall {
  readonly method: LabCall;
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
  /** Lets every held long call (holdLongCalls), or the one `requestId` names, answer. Returns how many it let go. */
  releaseLongCalls(requestId?: string): number;
};

// -- Runs ----------------------------------------------------------------------

interface FakeRun {
  summary: RunSummary;
  readonly experiment: ExperimentDef;
  readonly hash: string;
  /** The model card of each of the experiment's models, by index. */
  readonly models: readonly ModelCard[];
  readonly cells: FakeCell[];
  readonly rows: AnyRow[];
  readonly logs: LogLine[];
  readonly outDir: string;
}

// -- The fake's state ------------------------------------------------------------

/** Everything a fake holds; the handlers below read and change it. */
interface FakeState {
  readonly options: FakeLabOptions;
  readonly tickMs: number | null;
  readonly listeners: Set<(e: LabEvent) => void>;
  readonly calls: FakeCall[];
  readonly models: Map<string, ModelCard>;
  readonly runs: Map<string, FakeRun>;
  settings: Settings;
  runCounter: number;
  timer: ReturnType<typeof setInterval> | null;
  /** Long calls held by holdLongCalls, by requestId. */
  readonly held: Map<string, { resolve(): void; reject(e: ApiError): void }>;
}

function newState(options: FakeLabOptions): FakeState {
  return {
    options,
    tickMs: options.tickMs === undefined ? 250 : options.tickMs,
    listeners: new Set(),
    calls: [],
    models: new Map((options.models ?? [FAKE_DEMO_MODEL, FAKE_STORIES_MODEL]).map((c) => [c.id, c])),
    runs: new Map(),
    settings: { theme: 'system', executionProvider: 'cpu', threads: 0, floatWeights: 'auto' },
    runCounter: 0,
    timer: null,
    held: new Map(),
  };
}

/** A long call's progress as the host reports it (host/calls.ts): half the prompt prefilled; held there when the options say so. */
async function longCall(st: FakeState, call: ProgressCall, requestId: string | undefined, promptTokens: number): Promise<void> {
  if (requestId === undefined) return;
  const done = Math.ceil(promptTokens / 2);
  const current = `prefill ${formatOfTotal(done, promptTokens)} tokens`;
  emit(st, { type: 'call.progress', requestId, call, stage: 'prefill', done, total: promptTokens, current });
  if (st.options.holdLongCalls) await hold(st, requestId);
}

/** Waits for releaseLongCalls() (resolves) or cancelCall (rejects E_CANCELLED). */
function hold(st: FakeState, requestId: string): Promise<void> {
  return new Promise<void>((resolve, reject) => st.held.set(requestId, { resolve, reject }));
}

function callHandlers(st: FakeState): Pick<Handlers, 'cancelCall'> {
  return {
    cancelCall: ({ requestId }) => {
      const c = st.held.get(requestId);
      st.held.delete(requestId);
      c?.reject(new ApiError('E_CANCELLED', 'cancelled'));
      return { cancelled: c !== undefined };
    },
  };
}

function emit(st: FakeState, e: LabEvent): void {
  for (const l of [...st.listeners]) l(e);
}
const defaultModel = (st: FakeState): ModelCard | undefined => [...st.models.values()].find((m) => m.bundled) ?? [...st.models.values()][0];
function modelOr404(st: FakeState, id: string): ModelCard {
  const m = st.models.get(id);
  if (!m) throw new ApiError('E_NOT_FOUND', `no model with id '${id}'`);
  return m;
}
function runOr404(st: FakeState, id: string): FakeRun {
  const r = st.runs.get(id);
  if (!r) throw new ApiError('E_NOT_FOUND', `no run with id '${id}'`);
  return r;
}
function log(st: FakeState, run: FakeRun, level: LogLine['level'], message: string): void {
  const line: LogLine = { time: new Date().toISOString(), level, message };
  run.logs.push(line);
  emit(st, { type: 'run.log', runId: run.summary.id, line });
}
function setStatus(st: FakeState, run: FakeRun, status: RunStatus): void {
  run.summary = withStatus(run.summary, status);
  emit(st, { type: 'run.status', runId: run.summary.id, status });
}
const secondsPerCell = (st: FakeState): number => (st.tickMs ?? 250) / 1000;

// -- Running -----------------------------------------------------------------------

/** The card of an experiment's model path: a known model, else stories260K's shape under that path. */
function cardFor(st: FakeState, path: string): ModelCard {
  return [...st.models.values()].find((m) => m.path === path || m.name === path) ?? { ...FAKE_STORIES_MODEL, path, name: path.split(/[\\/]/).pop() ?? path };
}

/** The cells of an experiment, expanded by core as the runner expands it, over the workload registry's sample sketches. */
function planRun(exp: ExperimentDef): FakeCell[] {
  return planCells({
    models: exp.models.length,
    samples: exp.workloads.flatMap((w) => sketchWorkload(w).samples),
    methods: resolveMethods(exp.methods),
    budgets: resolveBudgets(exp.budgets),
  });
}

function createRun(st: FakeState, name: string | undefined, raw: unknown): FakeRun {
  let exp: ExperimentDef;
  try {
    exp = parseExperiment(raw);
  } catch (e) {
    throw new ApiError('E_INVALID', (e as Error).message, 'issues' in (e as object) ? (e as { issues: unknown }).issues : undefined);
  }
  st.runCounter++;
  const id = `run-${String(st.runCounter).padStart(4, '0')}`;
  const cells = planRun(exp);
  const models = exp.models.map((p) => cardFor(st, p));
  // createdAt must order runs even when several start within one millisecond.
  const createdAt = new Date(Date.UTC(2026, 10, 28, 12, 0, st.runCounter)).toISOString();
  const summary: RunSummary = {
    id,
    name: name ?? exp.name,
    status: 'queued',
    modelIds: exp.models.map((p) => [...st.models.values()].find((m) => m.path === p)?.id ?? p),
    cellsDone: 0,
    cellsTotal: cells.length,
    etaSeconds: cells.length * secondsPerCell(st),
    tokensPerSecond: 0,
    createdAt,
  };
  const run: FakeRun = {
    summary,
    experiment: exp,
    hash: hashString(JSON.stringify(exp)),
    models,
    cells,
    rows: [],
    logs: [],
    outDir: `/home/user/.local/share/kvlab/runs/${id}`,
  };
  st.runs.set(id, run);
  return run;
}

/** A run already finished when the fake starts: every row generated at once. */
function seedRun(st: FakeState, name: string, experiment: unknown): void {
  const run = createRun(st, name, experiment);
  run.cells.forEach((cell, i) => run.rows.push(makeRow(run, cell, mixSeed(run.experiment.seed, i))));
  run.summary = { ...run.summary, status: 'done', cellsDone: run.cells.length, etaSeconds: 0, tokensPerSecond: 190 };
}

const activeRun = (st: FakeState): FakeRun | undefined => [...st.runs.values()].find((r) => r.summary.status === 'running');

/** The state-leak check row (the first full-KV cell re-run after all samples), as the runner writes it. */
function leakCheckRow(run: FakeRun): CheckRow | undefined {
  const first = run.rows.find((r): r is ResultRow => r.kind === 'cell' && r.method === 'full');
  if (!first) return undefined;
  return {
    kind: 'check',
    cellId: leakCheckId(first.cellId),
    experimentHash: run.hash,
    experiment: run.experiment.name,
    model: first.model,
    check: 'state-leak',
    passed: true,
    detail: 'the first full-KV cell re-run after all samples gave the same output',
    flags: [],
  };
}

function finish(st: FakeState, run: FakeRun): void {
  const check = leakCheckRow(run);
  if (check) {
    run.rows.push(check);
    emit(st, { type: 'run.row', runId: run.summary.id, row: check });
  }
  run.summary = { ...run.summary, etaSeconds: 0 };
  log(st, run, 'info', `done: ${run.rows.length} rows`);
  setStatus(st, run, 'done');
}

/** Runs the next cell of a run: its row, then the progress event. */
function runCell(st: FakeState, run: FakeRun, cell: FakeCell): void {
  const row = makeRow(run, cell, mixSeed(run.experiment.seed, run.summary.cellsDone));
  run.rows.push(row);
  run.summary = afterCell(run.summary, { tokensPerSecond: 180 + 40 * Math.sin(run.summary.cellsDone + 1), secondsPerCell: secondsPerCell(st) });
  const { id: runId, cellsDone, cellsTotal, tokensPerSecond, etaSeconds } = run.summary;
  emit(st, { type: 'run.row', runId, row });
  const current = `${cell.sample.id} · ${cell.method.label} @ ${cell.budget.text}`;
  emit(st, { type: 'run.progress', runId, cellsDone, cellsTotal, tokensPerSecond, etaSeconds, current });
  if (cellsDone % 10 === 0) log(st, run, 'info', `${cellsDone}/${cellsTotal} cells`);
  if (cellsDone === cellsTotal) finish(st, run);
}

/** One cell of the active run, starting the oldest queued run if none is active. False when there is nothing to run. */
function stepOne(st: FakeState): boolean {
  let run = activeRun(st);
  if (!run) {
    run = nextQueued(st.runs.values());
    if (!run) return false;
    setStatus(st, run, 'running');
    log(st, run, 'info', `planned ${run.cells.length} cells (${run.summary.cellsDone} already done)`);
  }
  const cell = run.cells[run.summary.cellsDone];
  if (cell) runCell(st, run, cell);
  else finish(st, run);
  return true;
}

function step(st: FakeState, cellsToRun = 1): number {
  let ran = 0;
  while (ran < cellsToRun && stepOne(st)) ran++;
  if (!activeRun(st) && !nextQueued(st.runs.values())) stopTimer(st);
  return ran;
}

function startTimer(st: FakeState): void {
  if (st.tickMs === null || st.timer) return;
  st.timer = setInterval(() => step(st, 1), st.tickMs);
}
function stopTimer(st: FakeState): void {
  if (st.timer) clearInterval(st.timer);
  st.timer = null;
}

// -- Handlers ----------------------------------------------------------------------

/** A handler answers at once, or later (downloadModel, whose progress events come first). */
type Handlers = { readonly [M in LabCall]: (input: LabParsedInput<M>) => LabOutput<M> | Promise<LabOutput<M>> };

function appHandlers(st: FakeState): Pick<Handlers, 'getAppInfo' | 'getSettings' | 'updateSettings' | 'describeMethods'> {
  return {
    getAppInfo: (): AppInfo => ({
      version: '0.1.0',
      mode: 'serve',
      executionProvider: st.settings.executionProvider,
      executionProviders: [
        { id: 'cpu', available: true },
        { id: 'cuda', available: false, reason: 'no CUDA device found (fake)' },
      ],
      defaultModelId: defaultModel(st)?.id ?? null,
      resultsDir: '/home/user/.local/share/kvlab/runs',
    }),
    getSettings: () => st.settings,
    updateSettings: (patch) => {
      const s = st.settings;
      st.settings = {
        theme: patch.theme ?? s.theme,
        executionProvider: patch.executionProvider ?? s.executionProvider,
        threads: patch.threads ?? s.threads,
        floatWeights: patch.floatWeights ?? s.floatWeights ?? 'auto',
        kvType: patch.kvType ?? s.kvType ?? 'f32',
      };
      return st.settings;
    },
    describeMethods: () => describeMethods(),
  };
}

function openModel(st: FakeState, path: string): ModelCard {
  const existing = [...st.models.values()].find((m) => m.path === path);
  if (existing) return existing;
  if (/missing|does-not-exist/.test(path)) throw new ApiError('E_NOT_FOUND', `no such file: ${path}`);
  // Core's format list decides, by name only (the fake reads no file): a name without a dot is a folder.
  const base = path.split(/[\\/]/).pop() ?? path;
  const format = base.includes('.') ? recogniseModelFile(base, () => '') : 'hf';
  if (format === null) throw new ApiError('E_MODEL', `${path}: ${unreadableModelMessage()}`);
  const spec = modelFormat(format);
  const ending = [...spec.sureEndings, ...spec.weakEndings].find((e) => base.toLowerCase().endsWith(e));
  const name = ending && spec.shape === 'file' ? base.slice(0, -ending.length) : base;
  const c: ModelCard = {
    ...FAKE_STORIES_MODEL,
    id: `m-${hashString(path)}`,
    path,
    name,
    bundled: false,
    description: `Opened from ${path}`,
    format,
  };
  st.models.set(c.id, c);
  emit(st, { type: 'models.changed' });
  return c;
}

/** A simulated Hugging Face download: progress in four steps (one macrotask apart), then the model, like the host. */
async function downloadModel(st: FakeState, { repo, revision, file, requestId }: LabParsedInput<'downloadModel'>): Promise<ModelCard> {
  const f = file ?? '';
  const total = file ? 12_582_912 : 20_971_520;
  const progress = (bytesDone: number, done: boolean, error?: string) =>
    emit(st, { type: 'model.download', repo, file: f, bytesDone, bytesTotal: total, done, ...(error !== undefined ? { error } : {}) });
  const fail = (e: ApiError, bytesDone = 0): never => {
    progress(bytesDone, true, e.message);
    throw e;
  };
  if (/offline/i.test(repo)) fail(new ApiError('E_NOT_FOUND', 'cannot reach huggingface.co: getaddrinfo ENOTFOUND huggingface.co', { reason: 'offline' }));
  if (/missing/i.test(repo)) fail(new ApiError('E_NOT_FOUND', `${repo}@${revision}: no such repo, or it is private (set HF_TOKEN)`));
  progress(0, false);
  for (let i = 1; i <= 4; i++) {
    await new Promise((r) => setTimeout(r, 0));
    progress((total * i) / 4, false);
    // Held a quarter of the way (holdLongCalls): cancelCall ends it as the host does, with one final error event.
    if (i === 1 && requestId !== undefined && st.options.holdLongCalls) await hold(st, requestId).catch((e: ApiError) => fail(e, total / 4));
  }
  const path = `/home/user/.local/share/kvlab/models/${repo.replace('/', '--')}${file ? `/${file}` : ''}`;
  const c: ModelCard = [...st.models.values()].find((m) => m.path === path) ?? {
    ...FAKE_STORIES_MODEL,
    id: `m-${hashString(path)}`,
    path,
    name: file ? file.slice(file.lastIndexOf('/') + 1).replace(/\.gguf$/i, '') : (repo.split('/')[1] ?? repo),
    bundled: false,
    description: `Downloaded from huggingface.co/${repo}`,
    format: file ? 'gguf' : 'hf',
    fileBytes: total,
  };
  if (!st.models.has(c.id)) {
    st.models.set(c.id, c);
    emit(st, { type: 'models.changed' });
  }
  progress(total, true);
  return c;
}

function modelHandlers(st: FakeState): Pick<Handlers, 'listModels' | 'openModel' | 'downloadModel' | 'getModelCard' | 'profileModel'> {
  return {
    listModels: () => [...st.models.values()].map(summaryOf),
    openModel: ({ path }) => openModel(st, path),
    downloadModel: (input) => downloadModel(st, input),
    getModelCard: ({ modelId }) => modelOr404(st, modelId),
    profileModel: async (input): Promise<LayerProfile> => {
      const m = modelOr404(st, input.modelId);
      const n = Math.max(1, input.prompt.split(/\s+/).length + 1);
      await longCall(st, 'profileModel', input.requestId, n);
      const rng = createRng(mixSeed(m.layers, n));
      const lmbaPerHead = Array.from({ length: m.layers }, (_, l) =>
        Array.from({ length: m.heads }, () => Math.max(1, Math.round(n * (0.15 + 0.5 * Math.abs(Math.sin(l * 1.7)) + 0.1 * rng.next())))),
      );
      const lmba = lmbaPerHead.map((hs) => hs.reduce((a, b) => a + b, 0) / hs.length);
      const lmbo = lmba.map((x) => Math.min(n, Math.round(x * 1.2)));
      return { modelId: m.id, promptTokens: n, tau: input.tau, lmba, lmbaPerHead, tauO: input.tauO, lmbo, uncertainty: Array.from(layerUncertainty(lmba)) };
    },
  };
}

/** One compressed configuration of a Playground run, with the engine's validation and budget raising. */
function playgroundConfig(m: ModelCard, cfg: LabParsedInput<'runPlayground'>['configs'][number], i: number, base: PlaygroundBase): PlaygroundResult {
  let resolved;
  try {
    resolveMethods([cfg.method]);
    const spec = parseMethodSpec(cfg.method);
    // As the engine does: a budget below what the method can keep of this prompt is raised, with a notice.
    resolved = resolveBudget(parseBudget(cfg.budget), shapeOf(m), base.promptTokens);
    if (spec !== 'full') resolved = fitBudget(resolved, spec);
  } catch (e) {
    // As the lab process answers: the user's sentence, the field in details.
    throw new ApiError('E_INVALID', (e as Error).message, { field: `configs.${i}` });
  }
  const n = base.promptTokens;
  const budgets = layerBudgets(cfg.method, m.layers, resolved.totalTokens, n, 7 + i);
  const kept = budgets.map((b, l) => Array.from({ length: m.kvHeads }, (_, h) => keptPositions(n, Math.min(n, b), mixSeed(i, l, h))));
  const entries = kept.reduce((a, l) => a + l.reduce((x, k) => x + k.length, 0), 0);
  return {
    ...base,
    label: `${cfg.method} @ ${cfg.budget}`,
    method: cfg.method,
    budget: cfg.budget,
    text: (FAKE_CONTINUATIONS[(i + 1) % FAKE_CONTINUATIONS.length] ?? '').slice(0, base.generatedTokens * 4),
    tokensPerSecond: 230 + 15 * i,
    kvBytes: entries * m.headDim * 2 * 4,
    kept,
    layerBudgets: budgets,
    notices: resolved.adjusted ? [resolved.adjusted.notice] : [],
  };
}

type PlaygroundBase = Pick<PlaygroundResult, 'promptTokens' | 'generatedTokens' | 'prefillMs' | 'fullBytes'>;

function playgroundHandlers(st: FakeState): Pick<Handlers, 'runPlayground' | 'playgroundExample'> {
  return {
    runPlayground: async (input) => {
      const m = modelOr404(st, input.modelId);
      const tokens = ['<s>', ...(input.prompt.match(/\s*\S+/g) ?? [input.prompt])];
      const n = tokens.length;
      await longCall(st, 'runPlayground', input.requestId, n);
      const fullBytes = m.layers * m.kvHeads * n * m.headDim * 2 * 4;
      const base: PlaygroundBase = { promptTokens: n, generatedTokens: input.maxNewTokens, prefillMs: n * 0.4, fullBytes };
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
      return { tokens, results: [full, ...input.configs.map((cfg, i) => playgroundConfig(m, cfg, i, base))] };
    },
    playgroundExample: (input) => {
      modelOr404(st, input.modelId);
      // The fake's runPlayground splits a prompt into words (its "tokens"), so lengths are counted the same way.
      const counter = { count: (t: string) => (t.match(/\s*\S+/g) ?? []).length };
      const { kind, contextLength, depth, template, seed } = input;
      return playgroundExample({ kind, contextLength, depth, template, seed }, counter);
    },
  };
}

function runHandlers(st: FakeState): Pick<Handlers, 'startRun' | 'listRuns' | 'getRun' | 'cancelRun' | 'resumeRun' | 'getResults' | 'getSample'> {
  return {
    startRun: ({ name, experiment }) => {
      const run = createRun(st, name, experiment);
      emit(st, { type: 'run.status', runId: run.summary.id, status: 'queued' });
      startTimer(st);
      return run.summary;
    },
    listRuns: () => [...st.runs.values()].map((r) => r.summary).sort((a, b) => b.createdAt.localeCompare(a.createdAt)),
    getRun: ({ runId }): RunDetail => {
      const r = runOr404(st, runId);
      return { ...r.summary, experiment: r.experiment, logs: [...r.logs], outDir: r.outDir };
    },
    cancelRun: ({ runId }) => {
      const r = runOr404(st, runId);
      if (canTransition(r.summary.status, 'cancelled')) {
        log(st, r, 'warn', `cancelled after ${r.summary.cellsDone}/${r.cells.length} cells; finished cells are kept`);
        setStatus(st, r, 'cancelled');
      }
      return r.summary;
    },
    resumeRun: ({ runId }) => {
      const r = runOr404(st, runId);
      if (!canTransition(r.summary.status, 'queued')) throw new ApiError('E_BUSY', `run ${runId} is ${r.summary.status}; only cancelled or failed runs resume`);
      setStatus(st, r, 'queued');
      log(st, r, 'info', `resumed: ${r.summary.cellsDone} finished cells are skipped`);
      startTimer(st);
      return r.summary;
    },
    getResults: ({ runId, offset, limit }) => {
      const r = runOr404(st, runId);
      return { rows: r.rows.slice(offset, offset + limit), total: r.rows.length };
    },
    getSample: ({ runId, sampleId }) => {
      const r = runOr404(st, runId);
      const cell = r.cells.find((c) => c.sample.id === sampleId);
      if (!cell) throw new ApiError('E_NOT_FOUND', `run '${runId}' has no sample '${sampleId}'`);
      const tokens = fakePromptPieces(cell.sample);
      const answers = cell.sample.metric === 'fidelity' ? [] : ['71432'];
      return { sampleId, workload: cell.sample.workload, prompt: tokens.slice(1).join('').trimStart(), tokens, answers };
    },
  };
}

function exportReport(r: FakeRun, format: LabParsedInput<'exportReport'>['format']): ExportedFile {
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
}

/** Every method as the transports offer it: recorded, delayed, validated with the contract, and answered with a copy. */
function apiOver(st: FakeState, handlers: Handlers): Omit<LabApi, 'onEvent'> {
  const api = {} as Record<LabCall, (input: unknown) => Promise<unknown>>;
  for (const name of Object.keys(handlers) as LabCall[]) {
    api[name] = async (input: unknown) => {
      st.calls.push({ method: name, input });
      if (st.options.latencyMs) await new Promise((r) => setTimeout(r, st.options.latencyMs));
      const parsed = parseInput(name, input);
      // JSON round trip: callers must not share objects with the fake's state (the real transports copy too).
      return JSON.parse(JSON.stringify(await (handlers[name] as (i: unknown) => unknown)(parsed))) as unknown;
    };
  }
  return api as unknown as Omit<LabApi, 'onEvent'>;
}

// -- The fake ------------------------------------------------------------------

export function createFakeLab(options: FakeLabOptions = {}): FakeLab {
  const st = newState(options);
  for (const s of options.seedRuns ?? []) seedRun(st, s.name, s.experiment);
  const handlers: Handlers = {
    ...appHandlers(st),
    ...modelHandlers(st),
    ...playgroundHandlers(st),
    ...runHandlers(st),
    ...callHandlers(st),
    exportReport: ({ runId, format }) => exportReport(runOr404(st, runId), format),
  };
  return {
    ...apiOver(st, handlers),
    onEvent: (listener) => {
      st.listeners.add(listener);
      return () => {
        st.listeners.delete(listener);
      };
    },
    calls: st.calls,
    emit: (e) => emit(st, e),
    step: (cells) => step(st, cells),
    drain: () => {
      let n = 0;
      while (step(st, 1)) n++;
      return n;
    },
    dispose: () => stopTimer(st),
    listenerCount: () => st.listeners.size,
    releaseLongCalls: (requestId) => {
      const ids = requestId === undefined ? [...st.held.keys()] : [requestId];
      let n = 0;
      for (const id of ids) {
        const c = st.held.get(id);
        st.held.delete(id);
        c?.resolve();
        if (c) n++;
      }
      return n;
    },
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
