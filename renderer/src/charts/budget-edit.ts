/**
 * Editing a per-layer allocation by hand (the "custom" allocator of the Layer
 * profile screen and LayerBudgetBars' editable mode) while conserving the
 * total: setting one layer's budget takes the difference from, or gives it
 * to, the other layers in proportion to what they hold, so the allocation
 * stays comparable with the allocators' at the same memory.
 *
 * The redistribution is core's conserveTotal (water-fill + largest
 * remainder), the routine every layer allocator uses, so a custom allocation
 * obeys the same bounds and rounding as a computed one.
 */
import { conserveTotal } from '@kvlab/core';

export interface BudgetBounds {
  /** Smallest budget of any layer (tokens per KV head). Default 1: a layer with no cache at all is not something the engine runs. */
  readonly min?: number;
  /** Largest budget of any layer, e.g. the prompt length. Default: the total. */
  readonly max?: number;
}

const sum = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0);

/**
 * The allocation with layer `index` set as close to `value` as the bounds
 * allow and the other layers rescaled so the total (Σ budgets, integers)
 * does not change. Returns a new array; the input is untouched. An index
 * out of range or a single layer returns a copy.
 */
export function redistribute(budgets: readonly number[], index: number, value: number, bounds: BudgetBounds = {}): number[] {
  const L = budgets.length;
  const current = budgets.map((b) => Math.round(b));
  if (index < 0 || index >= L || L < 2 || !Number.isFinite(value)) return current;
  const total = sum(current);
  const lo = Math.max(0, Math.ceil(bounds.min ?? 1));
  const hi = Math.max(lo, Math.floor(bounds.max ?? total));
  // The other L − 1 layers must hold total − v within [lo, hi] each.
  const vMin = Math.max(lo, total - (L - 1) * hi);
  const vMax = Math.min(hi, total - (L - 1) * lo);
  if (vMin > vMax) return current; // the bounds cannot hold this total; leave it as it is
  const v = Math.min(vMax, Math.max(vMin, Math.round(value)));
  const others = current.filter((_, i) => i !== index);
  const rest = total - v;
  const held = sum(others);
  // Proportional to what each layer holds (equal shares when they hold nothing), then bounded and rounded to the exact rest.
  const raw = others.map((b) => (held > 0 ? (b / held) * rest : rest / others.length));
  const weights = others.map((b) => (held > 0 ? b : 1));
  const fixed = conserveTotal('custom', raw, rest, { lo, hi, weights });
  const out: number[] = [];
  let j = 0;
  for (let i = 0; i < L; i++) out.push(i === index ? v : (fixed[j++] ?? lo));
  return out;
}

/** Budgets scaled to a new total (integers, exact total), e.g. when the user changes the total under a custom allocation. */
export function rescaleTotal(budgets: readonly number[], total: number, bounds: BudgetBounds = {}): number[] {
  const L = budgets.length;
  if (L === 0) return [];
  const held = sum(budgets);
  const lo = Math.max(0, Math.ceil(bounds.min ?? 1));
  const hi = Math.max(lo, Math.floor(bounds.max ?? total));
  const t = Math.min(L * hi, Math.max(L * lo, Math.round(total)));
  const raw = budgets.map((b) => (held > 0 ? (b / held) * t : t / L));
  return Array.from(conserveTotal('custom', raw, t, { lo, hi, weights: held > 0 ? budgets : budgets.map(() => 1) }));
}
