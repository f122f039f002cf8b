/**
 * The engine lock: at most one model's engine is open at a time (loading
 * another model releases it), and calls that use it run one after another,
 * because one onnxruntime session runs one thing at a time. The playground,
 * the example builder and the layer profile all go through `withEngine`.
 *
 * Engines come only from the `EngineOpener` it is given (the service's one
 * injection point, default the real engine's openModel): the model is opened
 * with the settings' float weights, then its engine is started with their
 * provider, threads and KV type, so a test can run the host over a fake.
 */
import type { LabEvent, Settings } from '@kvlab/core';
import { ApiError } from '@kvlab/core';
import type { EngineInfo, EngineOpener, EngineOptions, InferenceEngine, OpenedModel } from '../engine/inference-engine.ts';
import { availableMemory } from '../engine/load.ts';
import type { KvRoom } from '../experiments/memory.ts';
import { kvRoomOf } from '../experiments/memory.ts';

/** A model the session can open: its registry id and where it lives. */
export interface ModelRef {
  readonly id: string;
  readonly path: string;
}

export interface OpenSession {
  readonly modelId: string;
  readonly model: OpenedModel;
  readonly engine: InferenceEngine;
  /** What a prompt's K/V may take (experiments/memory.ts), measured when the engine started: check before each prefill. */
  readonly kvRoom: KvRoom;
}

export interface EngineSessionOptions {
  readonly openModel: EngineOpener;
  /** The settings in force when an engine is opened. */
  readonly settings: () => Settings;
  /** Graph cache folder; undefined: the engine's default. */
  readonly cacheDir: string | undefined;
  readonly emit: (e: LabEvent) => void;
  /** Bytes of memory calls may use once an engine has started (default: load.ts's availableMemory); see kvRoom. */
  readonly availableMemory?: () => number;
}

/** How the settings in force (and the cache folder) ask an engine to run. */
export function engineOptions(settings: Settings, cacheDir: string | undefined): EngineOptions {
  return {
    executionProvider: settings.executionProvider,
    // 0 means "onnxruntime's choice", which is what leaving the option out asks for.
    ...(settings.threads > 0 ? { threads: settings.threads } : {}),
    kvType: settings.kvType ?? 'f32',
    ...(cacheDir ? { cacheDir } : {}),
  };
}

/** What the app's user can change when a prompt's K/V do not fit (experiments/memory.ts). */
const APP_REMEDY = { halve: 'choose the float16 KV cache in Settings', shorten: 'use a shorter prompt' } as const;

/** A promise chain: one engine call at a time. */
class Mutex {
  private tail: Promise<unknown> = Promise.resolve();
  /** Calls running or queued. */
  private pending = 0;
  /** Whether a call would wait for another. */
  get busy(): boolean {
    return this.pending > 0;
  }
  run<T>(fn: () => Promise<T>): Promise<T> {
    this.pending++;
    const r = this.tail.then(fn).finally(() => this.pending--);
    this.tail = r.catch(() => undefined);
    return r;
  }
}

/** Rejects with the signal's reason if it aborts before disarm() (never resolves); disarm() drops the listener. */
function abortOf(signal: AbortSignal): { readonly aborted: Promise<never>; readonly disarm: () => void } {
  let disarm = (): void => undefined;
  const aborted = new Promise<never>((_, reject) => {
    const onAbort = (): void => reject(signal.reason);
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    disarm = () => signal.removeEventListener('abort', onAbort);
  });
  return { aborted, disarm };
}

/** What a long call (host/calls.ts) gives withEngine: its cancel signal, and where to say that it waits or loads. */
export interface EngineWatch {
  readonly signal?: AbortSignal;
  readonly onStage?: (stage: 'waiting' | 'loading') => void;
}

export class EngineSession {
  private open: OpenSession | null = null;
  private lastFallbackReason: string | undefined;
  private readonly lock = new Mutex();
  private closed = false;

  constructor(private readonly opts: EngineSessionOptions) {}

  /** The model whose engine is open, or null. */
  get loadedModelId(): string | null {
    return this.open?.modelId ?? null;
  }

  /** The open model's weights and tokenizer (for reuse by callers that only need a model), or undefined. */
  get loadedModel(): OpenedModel | undefined {
    return this.open?.model;
  }

  /** The open engine's provider facts, or undefined before a model is loaded. */
  get engineInfo(): EngineInfo | undefined {
    return this.open?.engine.info;
  }

  /** Why the last opened engine fell back from the requested provider (kept after release until the settings change). */
  get fallbackReason(): string | undefined {
    return this.lastFallbackReason;
  }

  /**
   * Runs fn with the model's engine, opening it (and releasing another) first. One call at a time. With a
   * watch, a call cancelled while it waits for the engine or while the model loads stops before fn.
   */
  withEngine<T>(model: ModelRef, fn: (s: OpenSession) => Promise<T>, watch: EngineWatch = {}): Promise<T> {
    const { signal } = watch;
    // A call cancelled while it waits answers at once, not when the call ahead ends; its turn then finds it aborted.
    // Once its turn comes the race is off: it answers when the engine work stops, so the next call never waits on it.
    const waiting = this.lock.busy && signal ? abortOf(signal) : undefined;
    if (this.lock.busy) watch.onStage?.('waiting');
    const ran = this.lock.run(async () => {
      waiting?.disarm();
      if (this.closed) throw new ApiError('E_CANCELLED', 'the lab is shutting down');
      signal?.throwIfAborted();
      if (this.open?.modelId !== model.id) watch.onStage?.('loading');
      const open = await this.ensureOpen(model);
      signal?.throwIfAborted();
      return fn(open);
    });
    // Promise.race handles both sides' rejections: the loser's later one is not unhandled.
    return waiting ? Promise.race([ran, waiting.aborted]) : ran;
  }

  /** Drops the open engine so that the next call opens one with the current settings. */
  reset(): Promise<void> {
    this.lastFallbackReason = undefined;
    return this.lock.run(() => this.release());
  }

  /** Refuses further calls at once, then releases the engine after the call in flight. */
  close(): Promise<void> {
    this.closed = true;
    return this.lock.run(() => this.release());
  }

  private async ensureOpen(model: ModelRef): Promise<OpenSession> {
    if (this.open?.modelId === model.id) return this.open;
    await this.release();
    const settings = this.opts.settings();
    const opened = await this.opts.openModel(model.path, { floatWeights: settings.floatWeights ?? 'auto' });
    const engine = await opened.startEngine(engineOptions(settings, this.opts.cacheDir));
    this.lastFallbackReason = engine.info.fallbackReason;
    // Measured now, before any call: later figures would count the last call's garbage as used.
    const available = (this.opts.availableMemory ?? availableMemory)();
    this.open = { modelId: model.id, model: opened, engine, kvRoom: kvRoomOf(model.path, engine, APP_REMEDY, available) };
    this.opts.emit({ type: 'models.changed' });
    return this.open;
  }

  private async release(): Promise<void> {
    const s = this.open;
    if (!s) return;
    this.open = null;
    await s.engine.dispose();
    this.opts.emit({ type: 'models.changed' });
  }
}
