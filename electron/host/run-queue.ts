/**
 * The run queue: submitted experiments run one at a time through the runner
 * (electron/experiments/runner.ts), each into its folder (run-store.ts).
 * Cancel aborts through the runner's AbortSignal (finished cells stay);
 * resume re-queues into the same folder, and the runner skips finished
 * cells. startRun / listRuns / getRun / cancelRun / resumeRun live here.
 */
import { resolve } from 'node:path';
import type { AppInfo, LabEvent, LabHandlers, LabParsedInput, RunSummary } from '@kvlab/core';
import { ApiError, experimentDef } from '@kvlab/core';
import type { EngineOpener } from '../engine/inference-engine.ts';
import type { RunEvent } from '../experiments/runner.ts';
import { runExperiment } from '../experiments/runner.ts';
import { checkWorkloadFiles } from '../experiments/samples.ts';
import { toApiError } from './errors.ts';
import type { ModelRegistry } from './model-registry.ts';
import type { RunRecord, RunStore } from './run-store.ts';
import { runSummary } from './run-store.ts';

export interface RunQueueOptions {
  readonly store: RunStore;
  readonly registry: ModelRegistry;
  /** Relative paths in experiments (texts, LongBench files) resolve here. */
  readonly baseDir: string;
  readonly cacheDir: string | undefined;
  /** How the runner opens each model of a run (the service's one opener). */
  readonly openModel: EngineOpener;
  /** Named in the folder's writer lock, so a second writer knows who holds it. */
  readonly mode: AppInfo['mode'];
  readonly emit: (e: LabEvent) => void;
  /** The runner's memory figure (RunOptions.availableMemory); default: what the OS reports. */
  readonly availableMemory?: () => number;
}

export class RunQueue {
  private readonly queue: string[] = [];
  private active: RunRecord | null = null;
  private closed = false;

  constructor(private readonly opts: RunQueueOptions) {}

  handlers(): Pick<LabHandlers, 'startRun' | 'listRuns' | 'getRun' | 'cancelRun' | 'resumeRun'> {
    const { store } = this.opts;
    return {
      startRun: (input) => Promise.resolve(this.start(input)),
      listRuns: () => Promise.resolve(store.all().map(runSummary)),
      getRun: (input) => {
        const r = store.get(input.runId);
        return Promise.resolve({ ...runSummary(r), experiment: r.experiment, logs: [...r.logs], outDir: r.outDir });
      },
      cancelRun: (input) => this.cancel(store.get(input.runId)),
      resumeRun: (input) => Promise.resolve(this.resume(store.get(input.runId))),
    };
  }

  /** Cancels what is queued, aborts the run in flight (its folder says cancelled, resumable) and waits for it to stop. */
  async close(): Promise<void> {
    this.closed = true;
    for (const id of this.queue.splice(0)) {
      const r = this.opts.store.get(id);
      if (r.status === 'queued') this.opts.store.setStatus(r, 'cancelled');
    }
    const a = this.active;
    if (!a) return;
    a.controller?.abort(new ApiError('E_CANCELLED', 'the lab is shutting down'));
    await a.finished;
  }

  private start(input: LabParsedInput<'startRun'>): RunSummary {
    if (this.closed) throw new ApiError('E_CANCELLED', 'the lab is shutting down');
    const { baseDir } = this.opts;
    const { def, modelIds } = this.opts.registry.resolveExperimentModels(input.experiment);
    // A missing haystack or LongBench file is refused now (E_NOT_FOUND, naming it), not by the queued run.
    checkWorkloadFiles(def.workloads, { baseDir, ...(def.texts ? { textsDir: resolve(baseDir, def.texts) } : {}) });
    const r = this.opts.store.create({ name: input.name ?? def.name, modelIds, experiment: def });
    this.enqueue(r);
    return runSummary(r);
  }

  private async cancel(r: RunRecord): Promise<RunSummary> {
    const { store } = this.opts;
    if (r.status === 'queued') {
      const i = this.queue.indexOf(r.id);
      if (i >= 0) this.queue.splice(i, 1);
      store.log(r, 'info', 'cancelled before it started');
      store.setStatus(r, 'cancelled');
    } else if (r.status === 'running') {
      store.log(r, 'info', 'cancelling after the cell in flight…');
      r.controller?.abort(new ApiError('E_CANCELLED', 'cancelled'));
      // Answer once it has really stopped, so the caller sees 'cancelled', not a run still writing.
      await r.finished;
    }
    return runSummary(r);
  }

  private resume(r: RunRecord): RunSummary {
    if (r.status === 'cancelled' || r.status === 'failed') {
      const parsed = experimentDef.safeParse(r.experiment);
      if (!parsed.success) throw new ApiError('E_INVALID', r.error ?? 'the stored experiment is not valid');
      r.experiment = parsed.data;
      this.opts.store.log(r, 'info', 'resumed: finished cells are skipped');
      this.enqueue(r);
    }
    return runSummary(r);
  }

  private enqueue(r: RunRecord): void {
    this.queue.push(r.id);
    this.opts.store.setStatus(r, 'queued');
    queueMicrotask(() => this.pump());
  }

  private pump(): void {
    if (this.active || this.closed) return;
    const id = this.queue.shift();
    if (id === undefined) return;
    const r = this.opts.store.get(id);
    if (r.status !== 'queued') return this.pump();
    this.active = r;
    r.finished = this.execute(r).finally(() => {
      r.controller = undefined;
      this.active = null;
      this.pump();
    });
  }

  private async execute(r: RunRecord): Promise<void> {
    const { store } = this.opts;
    const controller = new AbortController();
    r.controller = controller;
    r.etaSeconds = 0;
    store.setStatus(r, 'running');
    const e = r.experiment;
    store.log(r, 'info', `started: ${e.methods.length} methods × ${e.budgets.length} budgets × ${e.workloads.length} workloads`);
    try {
      const s = await runExperiment(r.experiment, {
        outDir: r.outDir,
        writer: `${this.opts.mode === 'electron' ? 'the KV Lab app' : 'kvlab serve'}, run ${r.id}`,
        baseDir: this.opts.baseDir,
        signal: controller.signal,
        onEvent: (ev) => this.onRunEvent(r, ev),
        openModel: this.opts.openModel,
        ...(this.opts.cacheDir ? { cacheDir: this.opts.cacheDir } : {}),
        ...(this.opts.availableMemory ? { availableMemory: this.opts.availableMemory } : {}),
      });
      r.etaSeconds = 0;
      const what = `${s.cellsRun} cells run, ${s.cellsSkipped} already done, ${s.prefills} prefills, ${s.seconds.toFixed(1)} s`;
      store.log(r, 'info', `${s.cancelled ? 'cancelled' : 'done'}: ${what}`);
      store.setStatus(r, s.cancelled || controller.signal.aborted ? 'cancelled' : 'done');
    } catch (err) {
      r.etaSeconds = 0;
      this.recordFailure(r, err, controller.signal.aborted);
    }
  }

  private recordFailure(r: RunRecord, err: unknown, aborted: boolean): void {
    const { store } = this.opts;
    if (aborted) {
      store.log(r, 'info', 'cancelled');
      store.setStatus(r, 'cancelled');
      return;
    }
    const msg = toApiError(err).message;
    store.log(r, 'error', msg);
    store.setStatus(r, 'failed', msg);
  }

  /** The runner's events: progress into the record (saved at most once a second) and out as run.* events. */
  private onRunEvent(r: RunRecord, e: RunEvent): void {
    const { store, emit } = this.opts;
    switch (e.type) {
      case 'start':
        r.cellsTotal = e.cellsTotal;
        r.cellsDone = e.cellsDone;
        store.log(
          r,
          'info',
          `${e.cellsTotal} cells (${e.cellsDone} already done): ${e.prefills} prefills, ${e.prefillsSaved} saved by sharing one prefill per sample`,
        );
        emit({ type: 'run.progress', runId: r.id, cellsDone: r.cellsDone, cellsTotal: r.cellsTotal, tokensPerSecond: 0, etaSeconds: 0, current: '' });
        store.save(r);
        return;
      case 'progress':
        r.cellsDone = e.cellsDone;
        r.cellsTotal = e.cellsTotal;
        r.tokensPerSecond = e.tokensPerSecond;
        r.etaSeconds = e.etaSeconds;
        emit({
          type: 'run.progress',
          runId: r.id,
          cellsDone: e.cellsDone,
          cellsTotal: e.cellsTotal,
          tokensPerSecond: e.tokensPerSecond,
          etaSeconds: e.etaSeconds,
          current: e.current,
        });
        if (Date.now() - r.lastSaved > 1000) store.save(r);
        return;
      case 'cell':
        emit({ type: 'run.row', runId: r.id, row: e.row });
        return;
      case 'log':
        store.log(r, e.level, e.message);
        return;
    }
  }
}
