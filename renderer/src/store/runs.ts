/**
 * Runs: the queue, each run's detail, logs and result rows, kept current by
 * the engine's events. `subscribe()` attaches the one event listener (App
 * calls it on mount; tests call it directly):
 *   run.progress → the run's counters, rate, ETA and current cell
 *   run.row      → appended to the run's rows (deduplicated by cell id, so a
 *                  getResults that races the event stream never doubles a row)
 *   run.log      → appended to the run's log
 *   run.status   → the run's status (an unknown run reloads the list)
 *
 * Answers and events race: the host emits `run.status` / `run.progress` on
 * the event stream while the answer to the call that caused them is still on
 * its way. resumeRun, for one, answers with the run as it was when re-queued
 * ('queued') after the host has already emitted 'running' and the first
 * progress; applying that answer last left a running run showing 'queued',
 * with no ETA, rate or current cell, until a reload. So every answer that
 * carries a run's status (start, cancel, resume, getRun, listRuns) leaves the
 * live fields alone when an event about that run arrived while the call was
 * in flight: the event is the newer news. A progress event on a run still
 * shown as queued also marks it running (the host only reports progress of a
 * running run), which covers events lost while the stream reconnected.
 *   models.changed → the model list reloads
 *   model.download → the Hugging Face download's progress (models slice)
 *   call.progress  → the Playground's or the layer profile's progress (their slices)
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

/** The fields of a run that events keep current (see the header: an answer older than an event must not overwrite them). */
const LIVE_FIELDS = ['status', 'error', 'cellsDone', 'cellsTotal', 'tokensPerSecond', 'etaSeconds'] as const;

/** `run` without its live fields, for an answer that events overtook. */
export function withoutLiveFields<T extends RunSummary>(run: T): Partial<T> {
  const live = new Set<string>(LIVE_FIELDS);
  return Object.fromEntries(Object.entries(run).filter(([k]) => !live.has(k))) as Partial<T>;
}

export const createRunsSlice: SliceCreator<RunsSlice> = (set, get, api) => {
  const ctx: RunsContext = { set, get, api, track: runTracker(set) };
  return {
    runs: [],
    runsLoaded: false,
    details: {},
    rows: {},
    logs: {},
    current: {},
    ...loadActions(ctx),
    ...controlActions(ctx),
    handleEvent: eventHandler(ctx),
    subscribe: () => api.onEvent((e) => get().handleEvent(e)),
  };
};

type SetState = Parameters<SliceCreator<RunsSlice>>[0];
type GetState = Parameters<SliceCreator<RunsSlice>>[1];

/** What the runs slice's actions share: the store, the API and the run tracker. */
interface RunsContext {
  readonly set: SetState;
  readonly get: GetState;
  readonly api: Parameters<SliceCreator<RunsSlice>>[2];
  readonly track: RunTracker;
}

type RunTracker = ReturnType<typeof runTracker>;

/**
 * The bookkeeping that lets answers and events race safely (see the header): how many status/progress events
 * each run has seen, which cell ids it already holds, and the writes that respect both.
 */
function runTracker(set: SetState) {
  /** Cell ids seen per run (outside React state: it only guards against duplicates). */
  const seen = new Map<string, Set<string>>();
  const seenOf = (runId: string): Set<string> => {
    let s = seen.get(runId);
    if (!s) seen.set(runId, (s = new Set()));
    return s;
  };
  /** How many status/progress events arrived per run: an answer compares the count before and after its call. */
  const eventCount = new Map<string, number>();
  const eventsOf = (runId: string): number => eventCount.get(runId) ?? 0;
  const countEvent = (runId: string): void => void eventCount.set(runId, eventsOf(runId) + 1);
  /** The answer's run, less its live fields when an event about it arrived after `before` was read. */
  const fresh = <T extends RunSummary>(run: T, before: number): T | Partial<T> => (eventsOf(run.id) === before ? run : withoutLiveFields(run));
  const patchRun = (runId: string, patch: Partial<RunSummary>): void =>
    set((s) => ({
      runs: s.runs.map((r) => (r.id === runId ? { ...r, ...patch } : r)),
      ...(s.details[runId] ? { details: { ...s.details, [runId]: { ...(s.details[runId] as RunDetail), ...patch } } } : {}),
    }));
  /** Adds or updates a run from an answer whose call started when the run had seen `before` events (a new run: 0). */
  const upsertRun = (run: RunSummary, before: number): void =>
    set((s) =>
      s.runs.some((r) => r.id === run.id)
        ? { runs: s.runs.map((r) => (r.id === run.id ? { ...r, ...fresh(run, before) } : r)) }
        : // Not listed yet: events that came first have nothing to keep but the status they set, which loadRuns brought in.
          { runs: [run, ...s.runs] },
    );
  const appendRows = (runId: string, rows: readonly AnyRow[]): void => {
    const ids = seenOf(runId);
    const unseen = rows.filter((r) => !ids.has(r.cellId));
    if (unseen.length === 0) return;
    for (const r of unseen) ids.add(r.cellId);
    set((s) => ({ rows: { ...s.rows, [runId]: [...(s.rows[runId] ?? []), ...unseen] } }));
  };
  /** A snapshot of every run's event count, for an answer about all runs. */
  const snapshot = (): ReadonlyMap<string, number> => new Map(eventCount);
  return { eventsOf, countEvent, snapshot, patchRun, upsertRun, appendRows };
}

/** The run list, and one run's detail, log and rows (paged). */
function loadActions({ set, get, api, track }: RunsContext): Pick<RunsSlice, 'loadRuns' | 'loadRun'> {
  return {
    loadRuns: async () => {
      try {
        const before = track.snapshot();
        const listed = await api.listRuns({});
        set((s) => {
          const shown = new Map(s.runs.map((r) => [r.id, r]));
          return {
            runs: listed.map((r) => {
              const cur = shown.get(r.id);
              return cur && track.eventsOf(r.id) !== (before.get(r.id) ?? 0) ? { ...cur, ...withoutLiveFields(r) } : r;
            }),
            runsLoaded: true,
          };
        });
      } catch (e) {
        set({ runsLoaded: true });
        get().reportError(e, 'listing runs');
      }
    },
    loadRun: async (runId) => {
      try {
        const before = track.eventsOf(runId);
        const detail = await api.getRun({ runId });
        // Lines that arrived as events while getRun was in flight may be newer than the detail's copy: keep the longer log.
        set((s) => {
          const shown = s.runs.find((r) => r.id === runId);
          const live = track.eventsOf(runId) !== before && shown ? Object.fromEntries(LIVE_FIELDS.filter((k) => k in shown).map((k) => [k, shown[k]])) : {};
          return {
            details: { ...s.details, [runId]: { ...detail, ...live } },
            logs: { ...s.logs, [runId]: (s.logs[runId]?.length ?? 0) > detail.logs.length ? (s.logs[runId] ?? []) : detail.logs },
          };
        });
        track.upsertRun(detail, before);
        for (let offset = 0; ; offset += PAGE) {
          const page = await api.getResults({ runId, offset, limit: PAGE });
          track.appendRows(runId, page.rows);
          if (page.rows.length < PAGE || offset + page.rows.length >= page.total) break;
        }
      } catch (e) {
        get().reportError(e, `loading run ${runId}`);
      }
    },
  };
}

/** Start, cancel and resume: each answer updates the run unless an event overtook it. */
function controlActions({ get, api, track }: RunsContext): Pick<RunsSlice, 'startRun' | 'cancelRun' | 'resumeRun'> {
  return {
    startRun: async (experiment, name) => {
      try {
        const run = await api.startRun({ experiment, ...(name ? { name } : {}) });
        // A new id: any event about it arrived while startRun was in flight.
        track.upsertRun(run, 0);
        get().selectRun(run.id);
        return run;
      } catch (e) {
        get().reportError(e, 'starting the run');
        return null;
      }
    },
    cancelRun: async (runId) => {
      try {
        const before = track.eventsOf(runId);
        track.upsertRun(await api.cancelRun({ runId }), before);
      } catch (e) {
        get().reportError(e, 'cancelling');
      }
    },
    resumeRun: async (runId) => {
      try {
        const before = track.eventsOf(runId);
        track.upsertRun(await api.resumeRun({ runId }), before);
      } catch (e) {
        get().reportError(e, 'resuming');
      }
    },
  };
}

/** The engine's events, each applied to the slice it concerns (see the header). */
function eventHandler({ set, get, track }: RunsContext): RunsSlice['handleEvent'] {
  return (e) => {
    switch (e.type) {
      case 'run.progress': {
        track.countEvent(e.runId);
        const queued = get().runs.find((r) => r.id === e.runId)?.status === 'queued';
        track.patchRun(e.runId, {
          cellsDone: e.cellsDone,
          cellsTotal: e.cellsTotal,
          tokensPerSecond: e.tokensPerSecond,
          etaSeconds: e.etaSeconds,
          ...(queued ? { status: 'running' as const } : {}),
        });
        set((s) => ({ current: { ...s.current, [e.runId]: e.current } }));
        return;
      }
      case 'run.row':
        track.appendRows(e.runId, [e.row]);
        return;
      case 'run.log':
        set((s) => ({ logs: { ...s.logs, [e.runId]: [...(s.logs[e.runId] ?? []), e.line] } }));
        return;
      case 'run.status':
        track.countEvent(e.runId);
        if (!get().runs.some((r) => r.id === e.runId)) {
          void get().loadRuns();
          return;
        }
        track.patchRun(e.runId, e.error !== undefined ? { status: e.status, error: e.error } : { status: e.status });
        if (e.status !== 'running') set((s) => ({ current: Object.fromEntries(Object.entries(s.current).filter(([k]) => k !== e.runId)) }));
        return;
      case 'models.changed':
        void get().loadModels();
        return;
      case 'model.download':
        get().handleDownloadEvent(e);
        return;
      case 'call.progress':
        if (e.call === 'runPlayground') get().handlePlaygroundProgress(e);
        else get().handleProfileProgress(e);
        return;
    }
  };
}
