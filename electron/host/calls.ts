/**
 * Long calls a user can watch and stop: runPlayground and profileModel (and
 * downloadModel, which reports through its own model.download events). At
 * the sizes the lab is for they are minutes, not seconds (an 8B model
 * prefills ~22 tokens/s on a 2-core CPU, so a 32K-token prompt takes ~25
 * minutes). A call given a requestId reports `call.progress` events under it,
 * and cancelCall with that id aborts it: the work stops at its next prefill
 * chunk, generated token or LMBO layer, and the call fails with E_CANCELLED
 * (while it waits for the engine: at once). Calls without
 * an id are tracked too, unnamed, so that shutting the lab down stops them.
 */
import type { LabEvent, LabHandlers, ProgressCall } from '@kvlab/core';
import { ApiError, formatOfTotal } from '@kvlab/core';
import type { EngineWatch } from './engine-session.ts';

type Stage = Extract<LabEvent, { type: 'call.progress' }>['stage'];

/** One call in flight: the signal its engine work checks, and where it reports. */
export interface CallHandle {
  readonly signal: AbortSignal;
  /** Reports a stage's progress: sent when the stage changes or its count starts over, when done reaches total, else at most once per PROGRESS_INTERVAL_MS. */
  progress(stage: Stage, done: number, total: number, current: string): void;
}

/** Progress events of one call are at least this far apart, except stage changes, counts that start over and a count reaching its total. */
export const PROGRESS_INTERVAL_MS = 250;

export interface CallControlOptions {
  readonly emit: (e: LabEvent) => void;
  /** Milliseconds (tests). Default: performance.now. */
  readonly now?: () => number;
}

export class CallControl {
  private readonly inFlight = new Map<string, AbortController>();
  private unnamed = 0;
  private closed = false;

  constructor(private readonly opts: CallControlOptions) {}

  handlers(): Pick<LabHandlers, 'cancelCall'> {
    return { cancelCall: (input) => Promise.resolve({ cancelled: this.cancel(input.requestId) }) };
  }

  /** Runs fn as the call `requestId` names (or an unnamed one): cancellable, reporting under that id. */
  track<T>(call: ProgressCall, requestId: string | undefined, fn: (c: CallHandle) => Promise<T>): Promise<T> {
    const progress = requestId === undefined ? () => undefined : this.reporter(call, requestId);
    return this.cancellable(requestId, (signal) => fn({ signal, progress }));
  }

  /** Runs fn with a signal that cancelCall (with `requestId`, when given) and close() abort. */
  async cancellable<T>(requestId: string | undefined, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
    if (this.closed) throw new ApiError('E_CANCELLED', 'the lab is shutting down');
    // Unnamed keys hold a space, which a requestId cannot: the two never collide.
    const key = requestId ?? `unnamed ${++this.unnamed}`;
    if (this.inFlight.has(key)) throw new ApiError('E_BUSY', `a call with requestId '${key}' is already in flight`);
    const controller = new AbortController();
    this.inFlight.set(key, controller);
    try {
      return await fn(controller.signal);
    } finally {
      this.inFlight.delete(key);
    }
  }

  /** Aborts the call named `requestId`; false when none is in flight (it may have just finished). */
  cancel(requestId: string): boolean {
    const c = this.inFlight.get(requestId);
    if (!c) return false;
    c.abort(new ApiError('E_CANCELLED', 'cancelled'));
    return true;
  }

  /** Refuses new calls and aborts those in flight. */
  close(): void {
    this.closed = true;
    for (const c of this.inFlight.values()) c.abort(new ApiError('E_CANCELLED', 'the lab is shutting down'));
  }

  private reporter(call: ProgressCall, requestId: string): CallHandle['progress'] {
    const now = this.opts.now ?? (() => performance.now());
    let lastStage: Stage | undefined;
    let lastDone = 0;
    let lastAt = -Infinity;
    return (stage, done, total, current) => {
      const t = now();
      // A count that falls is a new round of the stage (the Playground's next configuration): sent, as a new stage is.
      if (stage === lastStage && done > lastDone && done < total && t - lastAt < PROGRESS_INTERVAL_MS) return;
      lastStage = stage;
      lastDone = done;
      lastAt = t;
      this.opts.emit({ type: 'call.progress', requestId, call, stage, done, total, current });
    };
  }
}

/** The EngineWatch of a call: cancelled while it waits or loads, and saying so. */
export function engineWatch(c: CallHandle, modelName: string): EngineWatch {
  return {
    signal: c.signal,
    onStage: (stage) => c.progress(stage, 0, 0, stage === 'waiting' ? 'waiting for the engine (another call is using it)' : `loading ${modelName}`),
  };
}

/** A prefill's onProgress that reports it as the call's 'prefill' stage. */
export function prefillProgress(c: CallHandle): (done: number, total: number) => void {
  return (done, total) => c.progress('prefill', done, total, `prefill ${formatOfTotal(done, total)} tokens`);
}
