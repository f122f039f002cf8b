/**
 * PyramidKV: a fixed pyramid — lower layers keep more tokens, upper layers fewer,
 * in an arithmetic sequence whose mean is the average budget.
 *
 * Paper: Cai et al., "PyramidKV: Dynamic KV Cache Compression based on Pyramidal
 * Information Funneling", https://arxiv.org/abs/2406.02069. Reference code:
 * Zefan-Cai/KVCache-Factory `pyramidkv/pyramidkv_utils.py`, `PyramidKVCluster.update_kv`
 * (the same schedule is copied into FFY0/AdaKV `adaptive_snapkv/monkeypatch/snapkv_utils.py`
 * `pyram_mode`; kvpress `presses/pyramidkv_press.py` `get_layer_budget` is a real-valued variant).
 *
 * Upstream, per layer l of L, with B = max_capacity_prompt (B_avg, window included),
 * α = window_size, C = B − α (prefix tokens per layer on average), all integers:
 *   min = C // β;  max = 2C − min                       (so (max + min)/2 = C)
 *   if max ≥ n − α:  max = n − α;  min = 2C − max        (no layer may exceed the prompt)
 *   step = (max − min) // (L − 1)                        (L − 1 in KVCache-Factory and AdaKV; some
 *                                                          copies elsewhere divide by L: a flatter pyramid)
 *   budget_l = (max − l·step) prefix tokens + the α window
 * and two short-prompt cases: n < B keeps everything; B ≤ n < 2C keeps B tokens in every
 * layer (SnapKV, uniform).
 *
 * Schedules (`schedule`):
 *   'conserving' (default)  the formulas above in REALS (no `//`): Σ_l budget_l = L·α + L·C = total
 *     exactly before rounding. The short-prompt cases map to: n ≤ B_avg → every layer n (the
 *     AllocatorDef contract); n < 2C → uniform B_avg. The reals are water-filled into
 *     [minPerLayer, n] with the raw schedule as weights and rounded by largest remainder
 *     (conserve.ts), so Σ = total, and the pyramid stays non-increasing.
 *   'kvcacheFactory'        the upstream integer arithmetic verbatim, with B = ⌊total/L⌋. It does NOT
 *     conserve: the floored step over-allocates by up to L(L−1)/2 tokens (e.g. L = 32, B = 16, α = 8:
 *     step = 16 // 31 = 0 and every layer gets 24), and a fractional B_avg is floored. The only
 *     change: budgets are raised to minPerLayer (upstream's last layer can keep 0 prefix tokens),
 *     and L = 1 (a ZeroDivisionError upstream) keeps B.
 *
 * Params:
 *   beta β = 20            pyramid steepness: the top layer keeps C/β prefix tokens
 *   windowSize α = 8       the observation window counted inside every layer's budget
 *                          (KV Lab / KVCache-Factory LongBench default; the class default is 64)
 *   schedule = 'conserving'  'conserving' | 'kvcacheFactory'
 * Stats in: none. Out: Int32Array[L], tokens per KV head, window included.
 */
import type { z } from 'zod';
import { BudgetError } from '../errors.ts';
import type { AllocatorDef, LayerStats } from '../method.ts';
import { enumParam, intParam, numParam, paramObject } from '../params.ts';
import { conserveTotal } from './conserve.ts';

const params = paramObject({
  beta: numParam({
    min: 1,
    max: 1000,
    default: 20,
    description: 'Pyramid steepness β: the top layer keeps C/β prefix tokens, the bottom layer 2C − C/β (C = B_avg − α).',
  }),
  windowSize: intParam({
    min: 0,
    max: 4096,
    default: 8,
    description: 'Observation window α counted inside every layer budget (C = B_avg − α is what the pyramid distributes).',
  }),
  schedule: enumParam(
    ['conserving', 'kvcacheFactory'],
    'conserving',
    "'conserving': the schedule in reals, exact total; 'kvcacheFactory': upstream integer arithmetic (may over-allocate).",
  ),
});
export type PyramidKvParams = z.infer<typeof params>;

/** The pyramid's ends for one prompt: prefix tokens of the first (max) and last (min) layer. */
export interface PyramidEnds {
  readonly max: number;
  readonly min: number;
}

/**
 * Upstream's min/max with the prompt-length clamp. `floor` selects `//`
 * (KVCache-Factory) or real division (conserving). C = B − α must be > 0.
 */
export function pyramidEnds(C: number, n: number, alpha: number, beta: number, floor: boolean): PyramidEnds {
  let min = floor ? Math.floor(C / beta) : C / beta;
  let max = 2 * C - min;
  if (max >= n - alpha) {
    max = n - alpha;
    min = 2 * C - max;
  }
  return { max, min };
}

/** The real-valued schedule (window included) before clamping and rounding; Σ = L·B_avg. */
export function pyramidRaw(L: number, n: number, total: number, p: PyramidKvParams): Float64Array {
  const avg = total / L;
  const C = avg - p.windowSize;
  if (L === 1 || n < 2 * C) return new Float64Array(L).fill(avg);
  const { max, min } = pyramidEnds(C, n, p.windowSize, p.beta, false);
  const step = (max - min) / (L - 1);
  return Float64Array.from({ length: L }, (_, l) => p.windowSize + max - l * step);
}

/** KVCache-Factory's integer schedule (window included), raised to `lo`. */
export function pyramidKvcacheFactory(L: number, n: number, total: number, lo: number, p: PyramidKvParams): Int32Array {
  const B = Math.floor(total / L);
  const alpha = p.windowSize;
  const C = B - alpha;
  if (n < B) return new Int32Array(L).fill(n);
  const out = new Int32Array(L);
  if (L === 1 || n < 2 * C) out.fill(B);
  else {
    const { max, min } = pyramidEnds(C, n, alpha, p.beta, true);
    const step = Math.floor((max - min) / (L - 1));
    for (let l = 0; l < L; l++) out[l] = max - l * step + alpha;
  }
  const floor = Math.min(lo, n);
  for (let l = 0; l < L; l++) out[l] = Math.max(out[l] ?? 0, floor);
  return out;
}

/** B_avg must exceed α (α clamped to the prompt, as its window is): Σ > L·α, or ⌊Σ/L⌋ > α upstream. */
function minTotal(stats: Pick<LayerStats, 'numLayers' | 'seqLen'>, p: PyramidKvParams): { tokens: number; why: string } {
  const L = stats.numLayers;
  const alpha = Math.min(p.windowSize, stats.seqLen);
  const tokens = p.schedule === 'kvcacheFactory' ? L * (alpha + 1) : L * alpha + 1;
  return { tokens, why: `${tokens} (PyramidKV shares out B_avg − α, so B_avg must exceed its window α = ${alpha})` };
}

function allocate(stats: LayerStats, total: number, params: PyramidKvParams): Int32Array {
  const L = stats.numLayers;
  const n = stats.seqLen;
  // A window longer than the prompt observes the whole prompt (observedWindow).
  const p = { ...params, windowSize: Math.min(params.windowSize, n) };
  if (!Number.isInteger(total) || total < 0) throw new BudgetError('pyramidkv', `total must be a non-negative integer, got ${total}`);
  if (total >= L * n) return new Int32Array(L).fill(n);
  const avg = p.schedule === 'kvcacheFactory' ? Math.floor(total / L) : total / L;
  if (avg <= p.windowSize) {
    throw new BudgetError(
      'pyramidkv',
      `the average budget ${+avg.toFixed(3)} tokens per layer must exceed windowSize α = ${p.windowSize} (PyramidKV distributes B_avg − α)`,
    );
  }
  if (p.schedule === 'kvcacheFactory') return pyramidKvcacheFactory(L, n, total, stats.minPerLayer, p);
  const raw = pyramidRaw(L, n, total, p);
  return conserveTotal('pyramidkv', raw, total, { lo: stats.minPerLayer, hi: n, weights: raw });
}

export const pyramidkv = {
  id: 'pyramidkv',
  label: 'PyramidKV',
  summary: 'A fixed pyramid: the first layer keeps the most tokens and each later layer a fixed step fewer, averaging to the budget.',
  paperUrl: 'https://arxiv.org/abs/2406.02069',
  params,
  allocate,
  minTotal,
} as const satisfies AllocatorDef<'pyramidkv', PyramidKvParams>;
