/**
 * Runs: the queue, each run's detail, logs and result rows, kept current by
 * the engine's events. `subscribe()` attaches the one event listener (App
 * calls it on mount; tests call it directly):
 *   run.progress → the run's counters, rate, ETA and current cell
 *   run.row      → appended to the run's rows (deduplicated by cell id, so a
 *                  getResults that races the event stream never doubles a row)
 *   run.log      → appended to the run's log
 *   run.status   → the run's status (an unknown run reloads the list)
 *   models.changed → the model list reloads
 *   model.download → the Hugging Face download's progress (models slice)
 */
import type { AnyRow, ExperimentInput, LabEvent, LogLine, RunDetail, RunSummary } from '@kvlab/core';
import type { SliceCreator } from './types.ts';

export interface RunsSlice {
  /** Newest first, as listRuns returns them. */
  readonly runs: readonly RunSummary[];
  readonly runsLoaded: boolean;
  readonly details: Readonly<Record<string, RunDetail>>;
  readonly rows: Readonly<Record<string, readonly AnyRow[]>>;
  readonly logs: Readonly<Record<string, readonly LogLine[]>>;
  /** The cell each running run is on ("niah-passkey/c256/d50/s0 · snapkv/zigzagkv @ 20%"). */
  readonly current: Readonly<Record<string, string>>;
  loadRuns(): Promise<void>;
  /** Detail, logs and every row of one run. */
  loadRun(runId: string): Promise<void>;
  startRun(experiment: ExperimentInput, name?: string): Promise<RunSummary | null>;
  cancelRun(runId: string): Promise<void>;
  resumeRun(runId: string): Promise<void>;
  handleEvent(e: LabEvent): void;
  /** Starts listening to engine events; returns the unsubscribe function. */
  subscribe(): () => void;
}

const PAGE = 10_000;

export const createRunsSlice: SliceCreator<RunsSlice> = (set, get, api) => {
  /** Cell ids seen per run (outside React state: it only guards against duplicates). */
  const seen = new Map<string, Set<string>>();
  const seenOf = (runId: string): Set<string> => {
    let s = seen.get(runId);
    if (!s) seen.set(runId, (s = new Set()));
    return s;
  };
  const patchRun = (runId: string, patch: Partial<RunSummary>): void =>
    set((s) => ({
      runs: s.runs.map((r) => (r.id === runId ? { ...r, ...patch } : r)),
      ...(s.details[runId] ? { details: { ...s.details, [runId]: { ...(s.details[runId] as RunDetail), ...patch } } } : {}),
    }));
  const upsertRun = (run: RunSummary): void =>
    set((s) => (s.runs.some((r) => r.id === run.id) ? { runs: s.runs.map((r) => (r.id === run.id ? { ...r, ...run } : r)) } : { runs: [run, ...s.runs] }));
  const appendRows = (runId: string, rows: readonly AnyRow[]): void => {
    const ids = seenOf(runId);
    const fresh = rows.filter((r) => !ids.has(r.cellId));
    if (fresh.length === 0) return;
    for (const r of fresh) ids.add(r.cellId);
    set((s) => ({ rows: { ...s.rows, [runId]: [...(s.rows[runId] ?? []), ...fresh] } }));
  };

  return {
    runs: [],
    runsLoaded: false,
    details: {},
    rows: {},
    logs: {},
    current: {},
    loadRuns: async () => {
      try {
        set({ runs: await api.listRuns({}), runsLoaded: true });
      } catch (e) {
        set({ runsLoaded: true });
        get().reportError(e, 'listing runs');
      }
    },
    loadRun: async (runId) => {
      try {
        const detail = await api.getRun({ runId });
        // Lines that arrived as events while getRun was in flight may be newer than the detail's copy: keep the longer log.
        set((s) => ({
          details: { ...s.details, [runId]: detail },
          logs: { ...s.logs, [runId]: (s.logs[runId]?.length ?? 0) > detail.logs.length ? (s.logs[runId] ?? []) : detail.logs },
        }));
        upsertRun(detail);
        for (let offset = 0; ; offset += PAGE) {
          const page = await api.getResults({ runId, offset, limit: PAGE });
          appendRows(runId, page.rows);
          if (page.rows.length < PAGE || offset + page.rows.length >= page.total) break;
        }
      } catch (e) {
        get().reportError(e, `loading run ${runId}`);
      }
    },
    startRun: async (experiment, name) => {
      try {
        const run = await api.startRun({ experiment, ...(name ? { name } : {}) });
        upsertRun(run);
        get().selectRun(run.id);
        return run;
      } catch (e) {
        get().reportError(e, 'starting the run');
        return null;
      }
    },
    cancelRun: async (runId) => {
      try {
        upsertRun(await api.cancelRun({ runId }));
      } catch (e) {
        get().reportError(e, 'cancelling');
      }
    },
    resumeRun: async (runId) => {
      try {
        upsertRun(await api.resumeRun({ runId }));
      } catch (e) {
        get().reportError(e, 'resuming');
      }
    },
    handleEvent: (e) => {
      switch (e.type) {
        case 'run.progress':
          patchRun(e.runId, { cellsDone: e.cellsDone, cellsTotal: e.cellsTotal, tokensPerSecond: e.tokensPerSecond, etaSeconds: e.etaSeconds });
          set((s) => ({ current: { ...s.current, [e.runId]: e.current } }));
          return;
        case 'run.row':
          appendRows(e.runId, [e.row]);
          return;
        case 'run.log':
          set((s) => ({ logs: { ...s.logs, [e.runId]: [...(s.logs[e.runId] ?? []), e.line] } }));
          return;
        case 'run.status':
          if (!get().runs.some((r) => r.id === e.runId)) {
            void get().loadRuns();
            return;
          }
          patchRun(e.runId, e.error !== undefined ? { status: e.status, error: e.error } : { status: e.status });
          if (e.status !== 'running') set((s) => ({ current: Object.fromEntries(Object.entries(s.current).filter(([k]) => k !== e.runId)) }));
          return;
        case 'models.changed':
          void get().loadModels();
          return;
        case 'model.download':
          get().handleDownloadEvent(e);
          return;
      }
    },
    subscribe: () => api.onEvent((e) => get().handleEvent(e)),
  };
};
