/**
 * The Compare screen's picks that must outlive a visit to another screen:
 * which model, workloads and budgets its charts show, the two methods of the
 * Δ-heatmap and whether the Pareto chart shows single samples. null: the
 * first one offered. A pick no longer offered (another run) falls back to
 * the first offered where it is read, so the picks need no reset.
 */
import type { SliceCreator } from './types.ts';

export interface ComparePicks {
  readonly model: string | null;
  readonly paretoWorkload: string | null;
  readonly niahWorkload: string | null;
  readonly niahBudget: string | null;
  /** The Δ-heatmap's minuend and subtrahend (method labels). */
  readonly deltaA: string | null;
  readonly deltaB: string | null;
  readonly layerBudget: string | null;
  readonly fidelityWorkload: string | null;
  readonly showSamples: boolean;
}

export interface CompareSlice {
  readonly comparePicks: ComparePicks;
  pickCompare(patch: Partial<ComparePicks>): void;
}

export const NO_COMPARE_PICKS: ComparePicks = {
  model: null,
  paretoWorkload: null,
  niahWorkload: null,
  niahBudget: null,
  deltaA: null,
  deltaB: null,
  layerBudget: null,
  fidelityWorkload: null,
  showSamples: false,
};

export const createCompareSlice: SliceCreator<CompareSlice> = (set) => ({
  comparePicks: NO_COMPARE_PICKS,
  pickCompare: (patch) => set((s) => ({ comparePicks: { ...s.comparePicks, ...patch } })),
});
