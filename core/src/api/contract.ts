/**
 * The app's one API contract: every call the UI makes and every event it
 * receives, whatever carries them. From this one table come
 *   - the Electron preload bridge (`window.lab`, one verb-named function per
 *     call — never a generic invoke) and the main-process handlers;
 *   - serve mode's HTTP routes (POST /api/<call>) and event stream (SSE),
 *     and the browser client that calls them;
 *   - the typed fake the component tests run against.
 * Adding a call here without implementing it everywhere is a compile error
 * (`LabApi` is a mapped type over this table), the pattern of GitHub Desktop's
 * typed IPC.
 *
 * Inputs are zod schemas: every transport validates what arrives with
 * `parseInput` before a handler sees it and answers a typed `ApiError`
 * (E_INVALID) otherwise. Outputs are plain JSON types produced by our own
 * handlers; they are not re-validated.
 */
import { z } from 'zod';
import { experimentDef } from '../experiment.ts';
import { describeIssues, joinIssues } from '../issues.ts';
import { pathText } from '../path-text.ts';
import { EXECUTION_PROVIDER_CHOICES } from '../execution-providers.ts';
import type { ModelFormatId } from '../model-formats.ts';
import type { ExecutionProvider, ExecutionProviderChoice, GpuAdapterInfo } from '../execution-providers.ts';
import type { MethodInfo } from '../registry.ts';
import type { AnyRow } from './rows.ts';

// -- Shared shapes -------------------------------------------------------------

/** A model the app knows (the bundled default or one the user opened). */
export interface ModelSummary {
  /** Stable id: a hash of the resolved path. */
  readonly id: string;
  readonly path: string;
  readonly name: string;
  readonly format: ModelFormatId;
  readonly bundled: boolean;
  /** Loaded into the engine process now. */
  readonly loaded: boolean;
}

/**
 * What the engine measures of a model file (electron/engine/load.ts `ModelInfo` extends it, so the
 * card and the engine cannot drift apart).
 */
export interface ModelFacts {
  readonly architecture: string;
  /** Elements of the canonical weights the model loads: a tied head counted once, a stored copy of it counted. */
  readonly parameters: number;
  readonly layers: number;
  readonly heads: number;
  readonly kvHeads: number;
  readonly headDim: number;
  /** Context length the file declares. */
  readonly contextLength: number;
  /** Bytes one token occupies in the KV cache over all layers: 2 (K and V) · layers · KV heads · head dim · element size. */
  readonly kvBytesPerToken: { readonly f32: number; readonly f16: number };
  /** Size of the model file(s) on disk (for an HF folder: the .safetensors files). */
  readonly fileBytes: number;
  /** Estimated peak memory to load and run it, without the KV cache. */
  readonly estimatedLoadBytes: number;
  /** Elements stored per file dtype ('F32', 'BF16', 'Q4_K'), over every tensor in the file(s). */
  readonly storedTypes: Readonly<Record<string, number>>;
  /**
   * Estimated load memory for each way of holding the matrices stored as floats
   * (F32/F16/BF16): float32, or requantised at load to 8-bit or 4-bit blocks.
   * Absent when every matrix is quantised in the file (it is kept as stored).
   */
  readonly floatWeightEstimates?: Readonly<Record<'f32' | 'q8' | 'q4', number>>;
}

/** The model card: what the Models screen shows. */
export interface ModelCard extends ModelSummary, ModelFacts {
  readonly description: string;
  readonly vocabSize: number;
  /** GGUF `general.*` metadata worth showing (licence, training data…). */
  readonly metadata: Readonly<Record<string, string | number>>;
}

export type RunStatus = 'queued' | 'running' | 'done' | 'cancelled' | 'failed';

export interface RunSummary {
  readonly id: string;
  readonly name: string;
  readonly status: RunStatus;
  readonly modelIds: readonly string[];
  readonly cellsDone: number;
  readonly cellsTotal: number;
  readonly etaSeconds: number;
  readonly tokensPerSecond: number;
  /** ISO time. */
  readonly createdAt: string;
  readonly error?: string;
}

export interface LogLine {
  readonly time: string;
  readonly level: 'info' | 'warn' | 'error';
  readonly message: string;
}

export interface RunDetail extends RunSummary {
  /** The experiment as submitted (parsed, defaults filled). */
  readonly experiment: z.output<typeof experimentDef>;
  readonly logs: readonly LogLine[];
  /** Where the results live on the engine's machine. */
  readonly outDir: string;
}

export interface PlaygroundResult {
  /** "full" or the method string. */
  readonly label: string;
  readonly method: string;
  readonly budget: string;
  readonly text: string;
  readonly promptTokens: number;
  readonly generatedTokens: number;
  readonly tokensPerSecond: number;
  readonly prefillMs: number;
  /** K+V bytes held after compression, and the full cache's. */
  readonly kvBytes: number;
  readonly fullBytes: number;
  /** Per layer, per KV head: the kept prompt positions (sorted). Empty for the full cache. */
  readonly kept: readonly (readonly (readonly number[])[])[];
  /** Per layer: tokens per head the allocator gave. */
  readonly layerBudgets: readonly number[];
  /** One line per adjustment to the request, e.g. a budget raised to the smallest this method can keep of the prompt. */
  readonly notices?: readonly string[];
}

export interface PlaygroundResponse {
  /** The prompt's tokens as text pieces (for the retention overlay). */
  readonly tokens: readonly string[];
  readonly results: readonly PlaygroundResult[];
  /** About the request as a whole, e.g. a prompt longer than the model's context (with the token counts). */
  readonly warnings?: readonly string[];
}

/** A retrieval example for the Playground (playgroundExample): a passkey or needle sample of core's NIAH generator, in the model's tokens. */
export interface PlaygroundExample {
  readonly kind: 'passkey' | 'needle';
  readonly prompt: string;
  /** What a right answer contains (the passkey, or the needle's number). */
  readonly answers: readonly string[];
  /** The sentence that holds the answer, exactly as it stands in the prompt (the retention overlay finds its tokens by it). */
  readonly needle: string;
  /** The template's id in core's sets: 'train-<i>' (the format the demo model was trained on) or 'heldOut-<i>'. */
  readonly template: string;
  /** The seed the sample was generated with (the asked one, or the first after it that gives the template). */
  readonly seed: number;
  readonly contextLength: number;
  readonly depth: number;
  /** The prompt's length in the model's tokens, as the workload generator measured it (without BOS). */
  readonly promptTokens: number;
  /** The generation cap the NIAH workload uses for this sample. */
  readonly maxNewTokens: number;
}

export interface LayerProfile {
  readonly modelId: string;
  readonly promptTokens: number;
  readonly tau: number;
  /** Per layer (mean over heads) and per layer × query head. */
  readonly lmba: readonly number[];
  readonly lmbaPerHead: readonly (readonly number[])[];
  readonly tauO: number;
  readonly lmbo: readonly number[];
  /** ZigZagKV's layer uncertainty, LMBA_l / Σ LMBA (sums to 1; what the allocator splits the budget by). */
  readonly uncertainty: readonly number[];
}

export interface AppInfo {
  readonly version: string;
  readonly mode: 'electron' | 'serve';
  /** Execution provider in use, those this build could use, and why a requested one is unavailable. */
  readonly executionProvider: string;
  readonly executionProviders: readonly { readonly id: ExecutionProvider; readonly available: boolean; readonly reason?: string }[];
  /** Why the loaded engine runs on its provider (e.g. what `auto` picked); absent before a model is loaded. */
  readonly executionProviderReason?: string;
  /** The WebGPU adapter of the loaded engine, when it runs on WebGPU. */
  readonly adapter?: GpuAdapterInfo;
  readonly defaultModelId: string | null;
  readonly resultsDir: string;
}

export interface Settings {
  readonly theme: 'system' | 'light' | 'dark';
  readonly executionProvider: ExecutionProviderChoice;
  /** Intra-op threads (0 = the runtime's default). */
  readonly threads: number;
  /**
   * How matrices stored as floats (F16/BF16/F32) are held when a model is
   * loaded: float32, requantised to 8-bit or 4-bit blocks, or 'auto' (float32 if
   * it fits in memory, else the first that does). Absent in settings saved before it existed: 'auto'.
   */
  readonly floatWeights?: 'auto' | 'f32' | 'q8' | 'q4';
  /** The KV cache's element type for the Playground and profiles (experiments set their own). Absent in settings saved before it existed: 'f32'. */
  readonly kvType?: 'f32' | 'f16';
}

export interface ExportedFile {
  readonly fileName: string;
  readonly mimeType: string;
  /** 'utf8' text, or 'base64' for binary formats (PDF, PNG). */
  readonly encoding: 'utf8' | 'base64';
  readonly data: string;
}

/** One sample of a run as its runner built it: what the Compare screen's sample panel shows. */
export interface SampleDetail {
  readonly sampleId: string;
  readonly workload: string;
  /** The prompt text (before any chat template). */
  readonly prompt: string;
  /** The prompt's token pieces with the run's model tokenizer, as prefilled (row.promptTokens of them); [] when there are none to show. */
  readonly tokens: string[];
  readonly answers: string[];
}

/** Events pushed from the engine to every window/client. */
export type LabEvent =
  | {
      readonly type: 'run.progress';
      readonly runId: string;
      readonly cellsDone: number;
      readonly cellsTotal: number;
      readonly tokensPerSecond: number;
      readonly etaSeconds: number;
      readonly current: string;
    }
  | { readonly type: 'run.row'; readonly runId: string; readonly row: AnyRow }
  | { readonly type: 'run.log'; readonly runId: string; readonly line: LogLine }
  | { readonly type: 'run.status'; readonly runId: string; readonly status: RunStatus; readonly error?: string }
  | { readonly type: 'models.changed' }
  | {
      /** A Hugging Face download (downloadModel): bytes so far over all its files; exactly one event per download has done: true (error set on failure). */
      readonly type: 'model.download';
      readonly repo: string;
      /** The requested .gguf file, or '' for a safetensors folder. */
      readonly file: string;
      readonly bytesDone: number;
      /** Sum of the files' sizes (0 while the file list is being read). */
      readonly bytesTotal: number;
      readonly done: boolean;
      readonly error?: string;
    }
  | {
      /**
       * How far a long call that was given a requestId has got (runPlayground, profileModel): an 8B model's 32K-token
       * prompt takes many minutes to prefill on a CPU. Every client receives it; each keeps the ones of its own request.
       * At most four a second, except a stage's first event and one that reaches the stage's total.
       */
      readonly type: 'call.progress';
      readonly requestId: string;
      readonly call: ProgressCall;
      /**
       * 'waiting': another call holds the engine; 'loading': the model's engine is starting; then the prompt's prefill,
       * then generation (the Playground) or LMBO's layers (the layer profile).
       */
      readonly stage: 'waiting' | 'loading' | 'prefill' | 'generate' | 'analyse';
      /** Count so far of the stage's total (prefill: prompt tokens; generate: this configuration's new tokens; analyse: layers); 0 of 0 while waiting or loading. */
      readonly done: number;
      readonly total: number;
      /** What a progress line shows: "prefill 2,048 of 32,768 tokens", "snapkv/uniform: 12 of 48 tokens". */
      readonly current: string;
    };

/** The calls that report call.progress; cancelCall stops them, and downloadModel (whose progress is its model.download events), by their requestId. */
export type ProgressCall = 'runPlayground' | 'profileModel';

// -- Errors --------------------------------------------------------------------

export type ApiErrorCode =
  | 'E_INVALID' // the payload failed validation
  | 'E_UNKNOWN_CALL'
  | 'E_NOT_FOUND' // no such model / run / file
  | 'E_FORBIDDEN' // bad token, wrong sender, path outside the allowed roots
  | 'E_BUSY' // a run already holds the model
  | 'E_MODEL' // the model file is bad or unsupported
  | 'E_CANCELLED'
  | 'E_INTERNAL';

/** The one error every transport carries: a code, a message that names the problem, and optional details. */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly code: ApiErrorCode,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
  toJSON(): { code: ApiErrorCode; message: string; details?: unknown } {
    return this.details === undefined ? { code: this.code, message: this.message } : { code: this.code, message: this.message, details: this.details };
  }
  /** Rebuilds an ApiError from its JSON (what a client receives). */
  static fromJSON(x: unknown): ApiError {
    if (typeof x === 'object' && x !== null && 'code' in x && 'message' in x && typeof x.message === 'string') {
      return new ApiError(String(x.code) as ApiErrorCode, x.message, 'details' in x ? x.details : undefined);
    }
    return new ApiError('E_INTERNAL', `malformed error: ${JSON.stringify(x)}`);
  }
}

// -- The table -----------------------------------------------------------------

/** One API call: its input schema and (type-only) output. ("Method" is kept for compression methods.) */
interface CallDef<I extends z.ZodType, O> {
  readonly input: I;
  readonly summary: string;
  /** Phantom: the output type. */
  readonly output?: O;
}
const call =
  <O>() =>
  <I extends z.ZodType>(input: I, summary: string): CallDef<I, O> => ({ input, summary });

const none = z.strictObject({});
const id = z.string().min(1).max(200);
const path = pathText();
const budget = z.string().min(1).max(64);
/** A client's name for one long call (a UUID or any short token): call.progress events carry it, and cancelCall takes it. */
const requestId = z
  .string()
  .min(1)
  .max(100)
  .regex(/^[A-Za-z0-9_.:-]+$/, 'letters, digits and _ . : - only');

export const playgroundInput = z.strictObject({
  modelId: id,
  prompt: z.string().min(1).max(1_000_000),
  maxNewTokens: z.number().int().min(1).max(1024).default(48),
  /** Up to three compressed configurations, shown next to the full cache. */
  configs: z.array(z.strictObject({ method: z.string().min(1).max(200), budget })).max(3),
  chatTemplate: z.boolean().default(false),
  /** Names the call for its call.progress events and for cancelCall. */
  requestId: requestId.optional(),
});

export const playgroundExampleInput = z.strictObject({
  modelId: id,
  kind: z.enum(['passkey', 'needle']).default('passkey'),
  /** Prompt length in the model's tokens. */
  contextLength: z.number().int().min(64).max(1_048_576).default(512),
  depth: z.number().min(0).max(100).default(50),
  /** 'train-<i>' or 'heldOut-<i>' of core's template sets (exampleTemplates); absent: the seed's own pick among the train templates. */
  template: z
    .string()
    .regex(/^(train|heldOut)-\d{1,2}$/, "a template id such as 'train-0'")
    .optional(),
  seed: z.number().int().min(0).max(2_000_000_000).default(1),
});

export const profileInput = z.strictObject({
  modelId: id,
  /** The prompt to profile (the UI fills it from a workload sample or the user's text). */
  prompt: z.string().min(1).max(1_000_000),
  tau: z.number().gt(0).lt(1).default(0.9),
  windowSize: z.number().int().min(1).max(256).default(8),
  tauO: z.number().gt(0).lt(1).default(0.95),
  lmbo: z.boolean().default(true),
  /** Names the call for its call.progress events and for cancelCall. */
  requestId: requestId.optional(),
});

export const settingsInput = z.strictObject({
  theme: z.enum(['system', 'light', 'dark']).optional(),
  executionProvider: z.enum(EXECUTION_PROVIDER_CHOICES).optional(),
  threads: z.number().int().min(0).max(256).optional(),
  floatWeights: z.enum(['auto', 'f32', 'q8', 'q4']).optional(),
  kvType: z.enum(['f32', 'f16']).optional(),
});

/** A Hugging Face repo id: "owner/name", each part as the Hub allows (letters, digits, '.', '_', '-'; no '..' or '--'). */
export const HF_REPO_ID = /^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,94}[A-Za-z0-9])?\/[A-Za-z0-9](?:[A-Za-z0-9._-]{0,94}[A-Za-z0-9])?$/;

export const downloadModelInput = z.strictObject({
  repo: z
    .string()
    .trim()
    .regex(HF_REPO_ID, 'a Hugging Face repo id, "owner/name"')
    .refine((s) => !s.includes('..') && !s.includes('--'), 'a repo id has no ".." or "--"'),
  /** Branch, tag or commit. */
  revision: z
    .string()
    .min(1)
    .max(200)
    .regex(/^[A-Za-z0-9._/-]+$/, 'a branch, tag or commit')
    .refine((s) => !s.split('/').includes('..'), 'a revision has no ".." segment')
    .default('main'),
  /** A .gguf file in the repo (may be in a sub-folder); omit to download the safetensors folder (config, tokenizer, weights). */
  file: z
    .string()
    .trim()
    .min(1)
    .max(1000)
    .regex(/^[^\\/][^\\]*\.gguf$/i, 'a .gguf file in the repo ("model-Q4_K_M.gguf")')
    .refine((s) => !s.split('/').some((p) => p === '..' || p === '.' || p === ''), 'a relative path inside the repo')
    .optional(),
  /** Names the download for cancelCall. */
  requestId: requestId.optional(),
});

export const LAB_API = {
  getAppInfo: call<AppInfo>()(none, 'Version, mode, execution providers, the default model.'),
  getSettings: call<Settings>()(none, 'The current settings.'),
  updateSettings: call<Settings>()(settingsInput, 'Changes some settings; returns them all.'),

  listModels: call<ModelSummary[]>()(none, 'The bundled default model and every model opened.'),
  openModel: call<ModelCard>()(z.strictObject({ path }), 'Inspects a GGUF file, HF folder or llama2.c .bin and adds it to the list.'),
  downloadModel: call<ModelCard>()(
    downloadModelInput,
    'Downloads a .gguf file or a safetensors folder from the Hugging Face Hub into the models folder and adds it to the list (model.download events).',
  ),
  getModelCard: call<ModelCard>()(z.strictObject({ modelId: id }), 'The model card of a known model.'),
  describeMethods: call<MethodInfo[]>()(none, 'Every scorer, allocator and head-wise method with its parameter schema.'),

  runPlayground: call<PlaygroundResponse>()(playgroundInput, 'One prompt, full KV and up to three compressed configurations.'),
  playgroundExample: call<PlaygroundExample>()(
    playgroundExampleInput,
    "A passkey or needle sample of core's NIAH generator (the demo model's training format), measured in the model's tokens.",
  ),
  profileModel: call<LayerProfile>()(profileInput, 'LMBA/LMBO per layer for a prompt.'),
  cancelCall: call<{ cancelled: boolean }>()(
    z.strictObject({ requestId }),
    'Stops the runPlayground, profileModel or downloadModel call given this requestId, which then fails with E_CANCELLED; cancelled: false when none is in flight.',
  ),

  startRun: call<RunSummary>()(z.strictObject({ name: z.string().min(1).max(200).optional(), experiment: experimentDef }), 'Queues an experiment.'),
  listRuns: call<RunSummary[]>()(none, 'Every run this engine knows, newest first.'),
  getRun: call<RunDetail>()(z.strictObject({ runId: id }), 'One run with its experiment and logs.'),
  cancelRun: call<RunSummary>()(z.strictObject({ runId: id }), 'Stops a queued or running run; finished cells are kept.'),
  resumeRun: call<RunSummary>()(z.strictObject({ runId: id }), 'Re-queues a cancelled or failed run; finished cells are skipped.'),
  getResults: call<{ rows: AnyRow[]; total: number }>()(
    z.strictObject({ runId: id, offset: z.number().int().min(0).default(0), limit: z.number().int().min(1).max(100_000).default(10_000) }),
    'Result rows of a run, in the order they finished.',
  ),
  getSample: call<SampleDetail>()(
    z.strictObject({ runId: id, sampleId: z.string().min(1).max(1000) }),
    "One sample of a run (prompt, its token pieces, answers), rebuilt from the run's experiment.",
  ),
  exportReport: call<ExportedFile>()(
    z.strictObject({ runId: id, format: z.enum(['html', 'pdf', 'csv', 'json']) }),
    'The report the CLI writes (kvlab report), as a file to save.',
  ),
} as const;

export type LabCall = keyof typeof LAB_API;
/** Method names, in table order (the preload bridge and the routes iterate them). */
export const LAB_CALLS = Object.keys(LAB_API) as LabCall[];

/** What a caller passes (defaults optional). */
export type LabInput<M extends LabCall> = z.input<(typeof LAB_API)[M]['input']>;
/** What a handler receives (validated, defaults filled). */
export type LabParsedInput<M extends LabCall> = z.output<(typeof LAB_API)[M]['input']>;
export type LabOutput<M extends LabCall> = NonNullable<(typeof LAB_API)[M]['output']>;

/** The client side: what `window.lab`, the HTTP client and the fake implement. */
export type LabApi = { readonly [M in LabCall]: (input: LabInput<M>) => Promise<LabOutput<M>> } & {
  /** Subscribes to engine events; returns the unsubscribe function. */
  readonly onEvent: (listener: (e: LabEvent) => void) => () => void;
};

/** The server side: what the lab process implements (inputs already validated). */
export type LabHandlers = { readonly [M in LabCall]: (input: LabParsedInput<M>) => Promise<LabOutput<M>> };

export function isLabCall(name: string): name is LabCall {
  return Object.hasOwn(LAB_API, name);
}

/** Validates a payload for `method`; throws ApiError E_INVALID naming the method and every problem. */
export function parseInput<M extends LabCall>(name: M, payload: unknown): LabParsedInput<M> {
  const r = LAB_API[name].input.safeParse(payload ?? {});
  // "getResults: limit: must be at most 100000; extra: …": the method, then each field and what is wrong with it.
  if (!r.success) throw new ApiError('E_INVALID', `${name}: ${joinIssues(describeIssues(r.error.issues, 'the input'))}`, r.error.issues);
  return r.data as LabParsedInput<M>;
}

/** Runs a validated call against handlers: the one dispatch every server-side transport uses. */
export async function dispatch(handlers: LabHandlers, name: string, payload: unknown): Promise<unknown> {
  if (!isLabCall(name)) throw new ApiError('E_UNKNOWN_CALL', `unknown API call '${name}'`);
  const input = parseInput(name, payload);
  return (handlers[name] as (i: unknown) => Promise<unknown>)(input);
}
