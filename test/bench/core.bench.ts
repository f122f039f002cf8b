/**
 * `npm run bench`: the cost of core's compression stages per layer, for a
 * 32-layer model with 32 query heads, 8 KV heads and head dim 128 (the
 * Llama-3-8B / Mistral-7B shape) at prompt lengths 4K and 32K.
 *
 * Stages, each timed on its own over every registered method (registry.ts):
 *   score     scorer.score(obs) for every layer                        → ms/layer
 *   allocate  allocator.collect (e.g. ZigZagKV's LMBA) + allocate, once
 *             for the whole model, divided by L                         → ms/layer
 *   headwise  head-wise split of one layer's budget (Ada-KV)            → ms/layer
 *   select    selectTokens at uniform per-head budgets (SnapKV scores)  → ms/layer
 *
 * Inputs are synthetic: attention statistics are random positive rows
 * (log-normal; 8 spreads cycled over the 32 layers, so LMBA-style allocators
 * see unequal layers) normalised per row, and keys/values are random normals
 * shared by every layer (one 32K layer of K is 128 MiB). No reference
 * attention runs: at 32K it would dominate the run. Timings are of core's JS
 * only; a method that throws is reported under the table and the run exits 1.
 *
 * Machines are noisy, so every time is also printed as a RATIO to an anchor
 * measured in the same run: one native Float32Array.prototype.sort of the
 * Hkv·n scores of one layer. Compare ratios across machines, ms only within
 * one run. docs/benchmarks.md explains how to read the table.
 */
import { availableParallelism } from 'node:os';
import type { LayerObservation, LayerStats, Protected, WindowAttention } from '@kvlab/core';
import { ALLOCATORS, createRng, defaultParams, f32, getAllocator, getHeadwise, getScorer, HEADWISE, mixSeed, SCORERS, selectTokens } from '@kvlab/core';

const L = 32;
const HQ = 32;
const HKV = 8;
const D = 128;
const KEEP = 0.2; // keep ratio: B_avg = 0.2·n tokens per KV head per layer
const CONTEXTS = [
  { label: '4K', n: 4096, repeats: 7 },
  { label: '32K', n: 32768, repeats: 2 },
] as const;

type Stage = 'score' | 'allocate' | 'headwise' | 'select' | 'sum';

interface Row {
  readonly stage: Stage;
  readonly id: string;
  readonly ms: number[]; // per context, ms per layer (NaN: not run)
  readonly ratio: number[]; // per context, ms per layer ÷ the anchor timed just before
}

/** Median of `repeats` timings of fn() (after one untimed warm-up run), in ms. */
function time(repeats: number, fn: () => void, setup: () => void = () => {}): number {
  setup();
  fn();
  const t: number[] = [];
  for (let r = 0; r < repeats; r++) {
    setup();
    const t0 = performance.now();
    fn();
    t.push(performance.now() - t0);
  }
  t.sort((a, b) => a - b);
  return t[Math.floor(t.length / 2)] ?? NaN;
}

/** Every window size any method asks for with its default parameters. */
function windowSizes(): number[] {
  const sizes = new Set<number>();
  for (const id of Object.keys(SCORERS)) {
    const s = getScorer(id);
    for (const need of s.needs(defaultParams(s)))
      if ((need.input === 'window' || need.input === 'windowVariance') && need.windowSize) sizes.add(need.windowSize);
  }
  for (const def of [...Object.keys(ALLOCATORS).map(getAllocator), ...Object.keys(HEADWISE).map(getHeadwise)]) {
    const p = defaultParams(def);
    const w = p !== null && typeof p === 'object' ? (p as Record<string, unknown>)['windowSize'] : undefined;
    if (typeof w === 'number' && w > 0) sizes.add(w);
  }
  return [...sizes].sort((a, b) => a - b);
}

/** A random positive row of length n, log-normal with spread sigma, scaled to sum to `mass`. */
function fillRow(out: Float32Array, off: number, n: number, sigma: number, mass: number, rng: ReturnType<typeof createRng>): void {
  let s = 0;
  for (let j = 0; j < n; j++) {
    const v = Math.exp(sigma * rng.normal());
    out[off + j] = v;
    s += v;
  }
  for (let j = 0; j < n; j++) out[off + j] = ((out[off + j] ?? 0) * mass) / s;
}

/** Distinct attention patterns; layer l reuses pattern l mod PATTERNS (keeps the 32K build to seconds). */
const PATTERNS = 8;

function makeObservations(n: number, sizes: readonly number[]): LayerObservation[] {
  const krng = createRng(mixSeed(1, n));
  const keys = f32(
    [HKV, n, D],
    new Float32Array(HKV * n * D).map(() => krng.normal()),
  );
  const values = f32(
    [HKV, n, D],
    new Float32Array(HKV * n * D).map(() => krng.normal()),
  );
  const patterns = Array.from({ length: PATTERNS }, (_, l) => {
    const rng = createRng(mixSeed(2, n, l));
    const sigma = 1 + 0.25 * l; // spread varies with depth, so LMBA-style allocators see unequal layers
    const windows: WindowAttention[] = sizes.map((a) => {
      const sum = new Float32Array(HQ * n);
      const sq = new Float32Array(HQ * n);
      const ent = new Float32Array(HQ);
      for (let h = 0; h < HQ; h++) {
        fillRow(sum, h * n, n, sigma, a, rng); // Σ over α rows of probabilities: the row sums to α
        let e = 0;
        for (let j = 0; j < n; j++) {
          const p = (sum[h * n + j] ?? 0) / a;
          sq[h * n + j] = a * p * p; // as if all α rows were equal
          if (p > 0) e -= p * Math.log(p);
        }
        ent[h] = e;
      }
      return { size: a, sum: f32([HQ, n], sum), sqSum: f32([HQ, n], sq), entropy: ent };
    });
    const last = new Float32Array(HQ * n);
    const acc = new Float32Array(HQ * n);
    for (let h = 0; h < HQ; h++) {
      fillRow(last, h * n, n, sigma, 1, rng);
      fillRow(acc, h * n, n, sigma, n, rng); // Σ over all n queries' rows
    }
    return { windows, lastQuery: f32([HQ, n], last), accumulated: f32([HQ, n], acc) };
  });
  return Array.from({ length: L }, (_, l) => {
    const pat = patterns[l % PATTERNS] ?? patterns[0];
    if (!pat) throw new Error('no patterns');
    return { layer: l, seqLen: n, numQueryHeads: HQ, numKvHeads: HKV, headDim: D, ...pat, keys, values };
  });
}

function main(): void {
  const sizes = windowSizes();
  const rows = new Map<string, Row>();
  const errors: string[] = [];
  /** Times fn (one pass over the model) and records ms per layer; a throwing method is reported, not fatal. */
  const anchors: number[][] = CONTEXTS.map(() => []);
  let anchor = (): number => NaN;
  const put = (stage: Stage, id: string, c: number, repeats: number, fn: () => void) => {
    const key = `${stage} ${id}`;
    const r = rows.get(key) ?? { stage, id, ms: CONTEXTS.map(() => NaN), ratio: CONTEXTS.map(() => NaN) };
    rows.set(key, r);
    try {
      const a = anchor(); // adjacent to the stage, so load that drifts during the run cancels in the ratio
      anchors[c]?.push(a);
      r.ms[c] = time(repeats, fn) / L;
      r.ratio[c] = (r.ms[c] ?? NaN) / a;
    } catch (e) {
      errors.push(`${key} (${CONTEXTS[c]?.label}): ${e instanceof Error ? e.message : String(e)}`);
    }
  };
  const started = performance.now();
  CONTEXTS.forEach(({ label, n, repeats }, c) => {
    const t0 = performance.now();
    const obs = makeObservations(n, sizes);
    console.error(`# ${label}: built ${L} synthetic layers in ${((performance.now() - t0) / 1000).toFixed(1)} s (windows α ∈ {${sizes.join(', ')}})`);

    // Anchor: one native sort of one layer's Hkv·n scores (a fresh copy each time), median of 5.
    const arng = createRng(mixSeed(3, n));
    const src = new Float32Array(HKV * n).map(() => arng.next());
    let buf = src.slice();
    anchor = () =>
      time(
        5,
        () => buf.sort(),
        () => (buf = src.slice()),
      );

    // Score.
    const snapScores = obs.map((o) => getScorer('snapkv').score(o, defaultParams(getScorer('snapkv'))));
    for (const id of Object.keys(SCORERS)) {
      const s = getScorer(id);
      const p = defaultParams(s);
      put('score', id, c, repeats, () => obs.forEach((o) => s.score(o, p)));
    }

    // Allocate (collect + allocate, whole model).
    const total = Math.round(KEEP * L * n);
    const protect: Protected = getScorer('snapkv').protect(defaultParams(getScorer('snapkv')));
    const minPerLayer = protect.sinks + protect.window + 1;
    for (const id of Object.keys(ALLOCATORS)) {
      const a = getAllocator(id);
      const p = defaultParams(a);
      put('allocate', id, c, repeats, () => {
        const stats: LayerStats = { ...(a.collect?.(obs, p) ?? {}), numLayers: L, seqLen: n, minPerLayer };
        a.allocate(stats, total, p);
      });
    }

    // Head-wise split and selection, at the uniform layer budget on SnapKV's scores.
    const b = Math.round(KEEP * n);
    for (const id of Object.keys(HEADWISE)) {
      const hw = getHeadwise(id);
      const p = defaultParams(hw);
      put('headwise', id, c, repeats, () => snapScores.forEach((s) => hw.split(s, b, protect, p)));
    }
    const budgets = new Int32Array(HKV).fill(b);
    put('select', 'selectTokens', c, repeats, () => snapScores.forEach((s) => selectTokens(s, budgets, protect, 'snapkv')));
    console.error(`# ${label}: timed in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  });

  const cpus = availableParallelism();
  console.log(`KV Lab core benchmark — L=${L}, Hq=${HQ}, Hkv=${HKV}, d=${D}, keep ${KEEP * 100}% (B_avg = ${KEEP}·n), default parameters`);
  console.log(
    `node ${process.version}, ${process.platform}/${process.arch}, ${cpus} CPU${cpus === 1 ? '' : 's'}; median of ${CONTEXTS.map((x) => `${x.repeats} (${x.label})`).join(' / ')} repeats after one warm-up`,
  );
  const spread = (a: readonly number[]) => {
    const s = [...a].sort((x, y) => x - y);
    return `${fmt(s[Math.floor(s.length / 2)] ?? NaN)} ms (${fmt(s[0] ?? NaN)}–${fmt(s[s.length - 1] ?? NaN)})`;
  };
  console.log(`anchor = one Float32Array.prototype.sort of one layer's Hkv·n random scores, timed before every stage;`);
  console.log(`  median (range): ${CONTEXTS.map((x, c) => `${x.label} ${spread(anchors[c] ?? [])}`).join(', ')}. × anchor uses the adjacent anchor.`);
  console.log('');
  const head = ['stage'.padEnd(10) + 'method'.padEnd(24), ...CONTEXTS.flatMap((x) => [`${x.label} ms/layer`.padStart(14), '× anchor'.padStart(10)])].join('');
  console.log(head);
  console.log('-'.repeat(head.length));
  const line = (r: Row) => {
    const cells = CONTEXTS.flatMap((_, c) => {
      return [fmt(r.ms[c] ?? NaN).padStart(14), fmt(r.ratio[c] ?? NaN).padStart(10)];
    });
    console.log(r.stage.padEnd(10) + r.id.padEnd(24) + cells.join(''));
  };
  for (const r of rows.values()) line(r);
  // The default ZigZagKV pipeline end to end (sum of its three stage medians).
  const parts = ['score snapkv', 'allocate zigzagkv', 'select selectTokens'];
  console.log('-'.repeat(head.length));
  const total = (pick: (r: Row) => number) =>
    parts.reduce((acc, k) => {
      const r = rows.get(k);
      return acc + (r ? pick(r) : NaN);
    }, 0);
  line({
    stage: 'sum',
    id: 'snapkv+zigzagkv+select',
    ms: CONTEXTS.map((_, c) => total((r) => r.ms[c] ?? NaN)),
    ratio: CONTEXTS.map((_, c) => total((r) => r.ratio[c] ?? NaN)),
  });
  console.log('');
  console.log(`total ${((performance.now() - started) / 1000).toFixed(1)} s`);
  for (const e of errors) console.log(`error: ${e}`);
  if (errors.length) process.exitCode = 1;
}

/** 3 significant digits, no exponent for the sizes we print. */
function fmt(x: number): string {
  if (!Number.isFinite(x)) return '—';
  if (x >= 100) return x.toFixed(0);
  if (x >= 10) return x.toFixed(1);
  if (x >= 1) return x.toFixed(2);
  return x.toFixed(3);
}

main();
