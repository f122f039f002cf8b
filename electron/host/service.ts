/**
 * The lab service: every LabHandlers method, composed from small parts that
 * each implement a few of them and name what they depend on:
 *
 *   settings.ts        getSettings, updateSettings (persisted in a settings file)
 *   app-info.ts        getAppInfo, describeMethods
 *   model-registry.ts  listModels, openModel, getModelCard (models by id)
 *   model-download.ts  downloadModel (Hugging Face Hub)
 *   engine-session.ts  the one open engine and its lock (no handlers of its own)
 *   playground.ts      runPlayground, playgroundExample
 *   profile.ts         profileModel
 *   calls.ts           cancelCall; call.progress of the Playground and the profile
 *   run-store.ts       the run folders (run.json, run.log), read back on start-up
 *   run-queue.ts       startRun, listRuns, getRun, cancelRun, resumeRun
 *   run-results.ts     getResults, getSample, exportReport
 *
 * It knows nothing of transports: the lab process (lab-process.ts) wraps it
 * in messages, tests call it directly, and its events leave through the
 * `emit` callback it is given.
 *
 * One injection point: every model and engine the host uses comes from the
 * `openModel` option (an EngineOpener; default the real engine's openModel):
 * the engine session's (Playground, examples, profile), the run queue's (the
 * runner opens each model of a run with it) and getSample's (it rebuilds a
 * run's prompts with the model's tokenizer). Tests run the whole host over a
 * fake engine by passing theirs.
 */
import { dirname, join, resolve } from 'node:path';
import type { AppInfo, LabEvent, LabHandlers, LabCall, Settings } from '@kvlab/core';
import { LAB_CALLS } from '@kvlab/core';
import { openModel as openRealModel } from '../engine/engine.ts';
import type { EngineOpener } from '../engine/inference-engine.ts';
import { appInfoHandlers } from './app-info.ts';
import { CallControl } from './calls.ts';
import { EngineSession } from './engine-session.ts';
import { toApiError } from './errors.ts';
import { ModelDownloads } from './model-download.ts';
import { ModelRegistry } from './model-registry.ts';
import { Playground } from './playground.ts';
import { Profiler } from './profile.ts';
import { RunQueue } from './run-queue.ts';
import { RunResults } from './run-results.ts';
import { RunStore } from './run-store.ts';
import { SettingsStore, settingsHandlers } from './settings.ts';

export { modelIdFor } from './model-registry.ts';
export { RUN_FILE, RUN_LOG } from './run-store.ts';

export interface LabServiceOptions {
  /** Folder holding one sub-folder per run. Created if missing. */
  readonly resultsDir: string;
  /** The bundled default model (defaultModelPath()), or null when there is none. */
  readonly defaultModel: string | null;
  /** Where events go (the lab process forwards them to every window/client). */
  readonly emit: (e: LabEvent) => void;
  readonly mode?: AppInfo['mode'];
  /** Relative paths in experiments (texts, LongBench files, models) resolve here. Default: the current directory. */
  readonly baseDir?: string;
  /** Graph cache folder (default: the engine's, ~/.cache/kvlab/graphs). */
  readonly cacheDir?: string;
  /** Initial settings (over the defaults; a settings file, when given and present, wins). */
  readonly settings?: Partial<Settings>;
  /** Where settings persist across restarts (kvlab serve: defaultSettingsFile()). Without it they live in memory. */
  readonly settingsFile?: string;
  /** Where downloadModel puts Hugging Face downloads (<owner>--<name>/ each). Default: a models folder beside resultsDir. */
  readonly modelsDir?: string;
  /** Opens every model the host uses and starts its engines (default: the real engine's openModel, onnxruntime). */
  readonly openModel?: EngineOpener;
  /** Bytes of memory a started engine's calls and runs may use (default: what the OS reports); see experiments/memory.ts. */
  readonly availableMemory?: () => number;
}

/** The handlers plus what the process that owns them needs. */
export interface LabService extends LabHandlers {
  /** Cancels the running run (its folder says cancelled, resumable), releases the engine. */
  close(): Promise<void>;
}

/** Every handler answers ApiError on failure (toApiError maps the engine's, runner's and reports' errors), thrown or rejected. */
function withApiErrors(handlers: LabHandlers): LabHandlers {
  const wrap = (m: LabCall) => async (input: unknown) => {
    try {
      return await (handlers[m] as (i: unknown) => Promise<unknown>)(input);
    } catch (e) {
      throw toApiError(e);
    }
  };
  return Object.fromEntries(LAB_CALLS.map((m) => [m, wrap(m)])) as unknown as LabHandlers;
}

/** The parts, wired: each gets only what it uses. */
function composeParts(opts: LabServiceOptions) {
  const resultsDir = resolve(opts.resultsDir);
  const baseDir = resolve(opts.baseDir ?? process.cwd());
  const { emit, cacheDir } = opts;
  const openModel = opts.openModel ?? openRealModel;
  const settings = new SettingsStore({ initial: opts.settings, file: opts.settingsFile });
  const room = opts.availableMemory ? { availableMemory: opts.availableMemory } : {};
  const session = new EngineSession({ openModel, settings: () => settings.current, cacheDir, emit, ...room });
  const registry = new ModelRegistry({ defaultModel: opts.defaultModel, baseDir, loadedModelId: () => session.loadedModelId, emit });
  const modelsDir = resolve(opts.modelsDir ?? join(dirname(resultsDir), 'models'));
  const store = new RunStore({ resultsDir, emit });
  const queue = new RunQueue({ store, registry, baseDir, cacheDir, openModel, mode: opts.mode ?? 'serve', emit, ...room });
  const calls = new CallControl({ emit });
  const downloads = new ModelDownloads({ modelsDir, registry, emit, calls });
  const handlers: LabHandlers = {
    ...appInfoHandlers({ settings, session, mode: opts.mode ?? 'serve', defaultModelId: registry.defaultModelId, resultsDir }),
    ...settingsHandlers({ store: settings, session }),
    ...registry.handlers(),
    ...downloads.handlers(),
    ...new Playground({ registry, session, calls }).handlers(),
    ...new Profiler({ registry, session, calls }).handlers(),
    ...calls.handlers(),
    ...queue.handlers(),
    ...new RunResults({ store, loadedModel: () => session.loadedModel, openModel, baseDir, cacheDir }).handlers(),
  };
  return { handlers, session, queue, calls };
}

/**
 * The lab's handlers over the real engine, runner, profiler and reports.
 * Inputs are already validated by the transport (core's parseInput/dispatch).
 */
export function createLabService(opts: LabServiceOptions): LabService {
  const { handlers, session, queue, calls } = composeParts(opts);
  let closed = false;
  return {
    ...withApiErrors(handlers),
    async close() {
      if (closed) return;
      closed = true;
      // The engine refuses new calls at once; its release waits for the call in flight.
      const released = session.close();
      calls.close();
      await queue.close();
      await released;
    },
  };
}

/** The service in this process with an event subscription instead of an `emit` callback (tests, tools; the app uses the lab process). */
export function createInProcessLab(opts: Omit<LabServiceOptions, 'emit'>): LabService & { onEvent(listener: (e: LabEvent) => void): () => void } {
  const listeners = new Set<(e: LabEvent) => void>();
  const service = createLabService({
    ...opts,
    emit: (e) => {
      for (const l of [...listeners]) l(e);
    },
  });
  return {
    ...service,
    onEvent(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}
