/**
 * Navigation and notices. The screen list is the sidebar's; each has a stable
 * id the e2e tests address as data-testid="nav-<id>" and as the URL hash
 * (#/runs), so a screen can be linked to and reloads land where they were.
 */
import { errorMessage } from '@kvlab/core';
import type { SliceCreator } from './types.ts';

export const SCREENS = [
  { id: 'models', label: 'Models' },
  { id: 'playground', label: 'Playground' },
  { id: 'profile', label: 'Layer profile' },
  { id: 'builder', label: 'Experiment builder' },
  { id: 'runs', label: 'Runs' },
  { id: 'compare', label: 'Compare' },
  { id: 'reports', label: 'Reports' },
] as const;
export type ScreenId = (typeof SCREENS)[number]['id'];

export function isScreenId(s: string): s is ScreenId {
  return SCREENS.some((x) => x.id === s);
}

export interface Notice {
  readonly id: number;
  readonly kind: 'error' | 'info';
  readonly text: string;
}

export interface UiSlice {
  readonly screen: ScreenId;
  /** The run Runs, Compare and Reports show. */
  readonly selectedRunId: string | null;
  readonly notices: readonly Notice[];
  navigate(screen: ScreenId): void;
  selectRun(runId: string | null): void;
  notify(kind: Notice['kind'], text: string): void;
  /** Shows what a failed call threw (ApiError message, or any error's). */
  reportError(e: unknown, context?: string): void;
  dismiss(id: number): void;
}

let noticeId = 0;

export const createUiSlice: SliceCreator<UiSlice> = (set, get) => ({
  screen: 'models',
  selectedRunId: null,
  notices: [],
  navigate: (screen) => set({ screen }),
  selectRun: (selectedRunId) => {
    set({ selectedRunId });
    // Once loaded, a run is kept current by the event stream; reloading would refetch every row.
    if (selectedRunId && !get().details[selectedRunId]) void get().loadRun(selectedRunId);
  },
  notify: (kind, text) => {
    const id = ++noticeId;
    // Keep the last few only: a failing timer must not grow the list without bound.
    set((s) => ({ notices: [...s.notices.slice(-4), { id, kind, text }] }));
  },
  reportError: (e, context) => get().notify('error', context ? `${context}: ${errorMessage(e)}` : errorMessage(e)),
  dismiss: (id) => set((s) => ({ notices: s.notices.filter((n) => n.id !== id) })),
});
