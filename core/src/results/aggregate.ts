/**
 * Aggregation of a results folder's rows into what the reports and the app's
 * Compare screen draw and tabulate. ONE implementation, in core, so the CLI's
 * static report (electron/reports, which re-exports this module) and the
 * renderer show the same numbers. Pure functions over plain rows: no I/O, no
 * formatting, and the output never depends on the order rows were appended in
 * (a resumed sweep or a merge of shards appends in another order, and must
 * give the same report).
 *
 * Why the numbers are the ones below:
 *   - scores are averaged over samples per (model, workload, method, budget),
 *     with the sample standard deviation and a Student-t 95 % confidence
 *     interval, because sweeps on small models have few samples per cell and
 *     a normal interval would overstate certainty;
 *   - memory is the MEASURED KV bytes the cache held after compression
 *     (`kv.heldBytes`), not the nominal budget — the whole point of the lab
 *     is to compare methods at the memory they really use (landscape.md §2,
 *     complaint 3: head-wise presses that mask instead of freeing);
 *   - the Pareto frontier is taken per model and workload over those groups:
 *     more score for no more measured memory.
 *
 * Inputs are structural (`ExperimentRecord`, `RowRecord`) so the main
 * process passes its stored experiment and raw rows and the renderer passes
 * what `getResults` returned, without either importing the other's types.
 */
import { LabError } from '../errors.ts';
import { parseMethodSpec } from '../method-spec.ts';
import type { CheckRow, ProfileRow, ResultRow, SanityFlag } from '../api/rows.ts';

/** An experiment as stored next to its rows (experiment.json); the results store's own type fits it. */
export interface ExperimentRecord {
  readonly hash: string;
  /** The experiment definition as written (its `name` and `description` are read). */
  readonly definition: unknown;
  readonly createdAt: string;
}

/** A row as read back: only the cell id is required; `splitRows` checks the rest. AnyRow and the store's raw rows fit it. */
export interface RowRecord {
  readonly cellId: string;
}

/** Results that cannot be reported as asked (no rows, a metric the rows lack, …): the request is invalid, not the program. */
export class ReportError extends LabError {
  readonly code = 'E_REPORT' as const;
  readonly apiCode = 'E_INVALID' as const;
  constructor(readonly problem: string) {
    super(problem);
    this.name = 'ReportError';
  }
}

/** Mean, sample standard deviation (n − 1) and the half-width of a Student-t 95 % CI. */
export interface Stat {
  readonly n: number;
  readonly mean: number;
  /** 0 for a single value. */
  readonly std: number;
  /** Half-width of the 95 % confidence interval of the mean; 0 for a single value. */
  readonly ci95: number;
}

// Two-sided 95 % Student-t quantiles t(0.975, df) for df = 1…30.
const T975 = [
  12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131, 2.12, 2.11, 2.101, 2.093, 2.086, 2.08, 2.074, 2.069,
  2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042,
];

/** t(0.975, df): the table up to 30, then the Cornish–Fisher expansion around z = 1.96 (error < 1e-4 there). */
export function tQuantile975(df: number): number {
  if (df < 1) return Number.NaN;
  const tab = T975[Math.floor(df) - 1];
  if (tab !== undefined) return tab;
  const z = 1.959964;
  const z3 = z ** 3;
  const z5 = z ** 5;
  return z + (z3 + z) / (4 * df) + (5 * z5 + 16 * z3 + 3 * z) / (96 * df ** 2);
}

export function stat(values: readonly number[]): Stat {
  const n = values.length;
  if (n === 0) return { n: 0, mean: Number.NaN, std: Number.NaN, ci95: Number.NaN };
  let sum = 0;
  for (const v of values) sum += v;
  const mean = sum / n;
  if (n === 1) return { n, mean, std: 0, ci95: 0 };
  let ss = 0;
  for (const v of values) ss += (v - mean) ** 2;
  const std = Math.sqrt(ss / (n - 1));
  return { n, mean, std, ci95: (tQuantile975(n - 1) * std) / Math.sqrt(n) };
}

const meanOf = (values: readonly number[]): number => (values.length ? values.reduce((a, b) => a + b, 0) / values.length : Number.NaN);

// ---------------------------------------------------------------------------
// Rows

/** The rows of a results folder, split by kind and checked enough to draw them. */
export interface ReportRows {
  readonly cells: readonly ResultRow[];
  readonly profiles: readonly ProfileRow[];
  /** Sanity checks run after a model's cells (e.g. the state-leak re-run). */
  readonly checks: readonly CheckRow[];
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Splits stored rows into cells and profiles, rejecting (with the cell id)
 * rows that lack what the reports read. Unknown kinds are ignored so a newer
 * runner's rows do not break an older report.
 */
export function splitRows(rows: readonly RowRecord[]): ReportRows {
  const cells: ResultRow[] = [];
  const profiles: ProfileRow[] = [];
  const checks: CheckRow[] = [];
  for (const row of rows) {
    const r = row as unknown as Readonly<Record<string, unknown>> & { readonly cellId: string };
    const bad = (what: string): never => {
      throw new ReportError(`row ${r.cellId}: ${what}`);
    };
    if (r['kind'] === 'cell') {
      if (!isObj(r['model']) || typeof r['model']['name'] !== 'string') bad('has no model name');
      if (typeof r['workload'] !== 'string' || typeof r['sampleId'] !== 'string') bad('has no workload or sample id');
      if (typeof r['method'] !== 'string' || typeof r['methodLabel'] !== 'string' || typeof r['budget'] !== 'string') bad('has no method or budget');
      if (typeof r['score'] !== 'number') bad('has no numeric score');
      const kv = r['kv'];
      if (!isObj(kv) || typeof kv['heldBytes'] !== 'number' || typeof kv['fullBytes'] !== 'number' || typeof kv['nominalRatio'] !== 'number')
        bad('has no KV measurement (kv.heldBytes, kv.fullBytes, kv.nominalRatio)');
      if (!Array.isArray(r['flags'])) bad('has no flags array');
      if (!isObj(r['provenance'])) bad('has no provenance');
      cells.push(r as unknown as ResultRow);
    } else if (r['kind'] === 'profile') {
      if (!isObj(r['model']) || typeof r['model']['name'] !== 'string') bad('has no model name');
      if (!Array.isArray(r['lmba'])) bad('has no lmba array');
      if (!isObj(r['provenance'])) bad('has no provenance');
      profiles.push(r as unknown as ProfileRow);
    } else if (r['kind'] === 'check') {
      if (!isObj(r['model']) || typeof r['model']['name'] !== 'string') bad('has no model name');
      if (!Array.isArray(r['flags'])) bad('has no flags array');
      checks.push(r as unknown as CheckRow);
    }
  }
  return { cells, profiles, checks };
}

// ---------------------------------------------------------------------------
// Ordering: stable and independent of the order rows were written in.

const FULL = 'full';
const isFullMethod = (r: { readonly method: string }): boolean => r.method === FULL;

/** 'full' first, then by label. */
export function compareMethods(a: string, b: string): number {
  if (a === b) return 0;
  if (a === FULL) return -1;
  if (b === FULL) return 1;
  return a < b ? -1 : 1;
}

/**
 * Orders budget strings by their mean nominal keep ratio over the rows
 * (smallest memory first, "full" last), then by the string, so "10%" comes
 * before "128" when 128 tokens is the larger share.
 */
export function budgetOrder(cells: readonly ResultRow[]): (a: string, b: string) => number {
  const sums = new Map<string, { s: number; n: number }>();
  for (const r of cells) {
    const e = sums.get(r.budget) ?? { s: 0, n: 0 };
    e.s += isFullMethod(r) ? Number.POSITIVE_INFINITY : r.kv.nominalRatio;
    e.n++;
    sums.set(r.budget, e);
  }
  const ratio = (b: string): number => {
    if (b === FULL) return Number.POSITIVE_INFINITY;
    const e = sums.get(b);
    return e ? e.s / e.n : Number.POSITIVE_INFINITY;
  };
  return (a, b) => {
    const d = ratio(a) - ratio(b);
    if (d < 0) return -1;
    if (d > 0) return 1;
    return a < b ? -1 : a > b ? 1 : 0;
  };
}

const byString = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

// ---------------------------------------------------------------------------
// Groups: (model, workload, method, budget)

export interface FidelityStats {
  readonly nll: Stat;
  readonly ppl: Stat;
  readonly deltaNll: Stat;
  readonly kl: Stat;
  readonly top1: Stat;
  readonly greedyPrefix: Stat;
}

export interface GroupSummary {
  /** "model\u0000workload\u0000methodLabel\u0000budget" — unique and stable. */
  readonly key: string;
  readonly model: string;
  readonly workload: string;
  /** Canonical method string ("snapkv/zigzagkv+adakv", "full"). */
  readonly method: string;
  /** The label the experiment gave it (unique within the experiment). */
  readonly methodLabel: string;
  readonly budget: string;
  /** The metric(s) of the samples, joined with "+" when a workload mixes them. */
  readonly metric: string;
  readonly isFull: boolean;
  readonly score: Stat;
  /** Means over the group's rows, in bytes. */
  readonly heldBytes: number;
  readonly slotBytes: number;
  readonly fullBytes: number;
  /** Mean of nominalRatio × fullBytes: the memory the budget promised. */
  readonly nominalBytes: number;
  /** Mean nominal keep ratio (budget tokens / prompt tokens). */
  readonly nominalRatio: number;
  /** Mean heldBytes / fullBytes. */
  readonly measuredRatio: number;
  readonly promptTokens: number;
  /** Present when every row of the group carries fidelity metrics. */
  readonly fidelity?: FidelityStats;
  /** The union of the rows' sanity flags, sorted; 'low-baseline' only when it reaches LOW_BASELINE_ALARM_SHARE of the group's cells. */
  readonly flags: readonly SanityFlag[];
  readonly flaggedCells: number;
}

export const groupKey = (model: string, workload: string, methodLabel: string, budget: string): string => [model, workload, methodLabel, budget].join('\u0000');

/** Groups cells by (model, workload, method label, budget) and summarises each, in report order. */
export function groupCells(cells: readonly ResultRow[]): GroupSummary[] {
  const groups = new Map<string, ResultRow[]>();
  for (const r of cells) {
    const k = groupKey(r.model.name, r.workload, r.methodLabel, r.budget);
    const g = groups.get(k);
    if (g) g.push(r);
    else groups.set(k, [r]);
  }
  const out: GroupSummary[] = [];
  for (const [key, rs] of groups) {
    const first = rs[0];
    if (!first) continue;
    const withFid = rs.filter((r) => r.fidelity !== undefined);
    const fid = (pick: (f: NonNullable<ResultRow['fidelity']>) => number): Stat =>
      stat(withFid.map((r) => pick(r.fidelity as NonNullable<ResultRow['fidelity']>)));
    // A few low-baseline cells in a group are misses, not an alarm (lowBaselineAlarm): the group does not carry the flag then.
    const flags = [...new Set(rs.flatMap((r) => r.flags))].filter((f) => f !== 'low-baseline' || lowBaselineAlarm(rs)).sort(byString);
    const fidelity: FidelityStats | undefined =
      withFid.length === rs.length
        ? {
            nll: fid((f) => f.nll),
            ppl: fid((f) => f.ppl),
            deltaNll: fid((f) => f.deltaNll),
            kl: fid((f) => f.kl),
            top1: fid((f) => f.top1),
            greedyPrefix: fid((f) => f.greedyPrefix),
          }
        : undefined;
    out.push({
      key,
      model: first.model.name,
      workload: first.workload,
      method: first.method,
      methodLabel: first.methodLabel,
      budget: first.budget,
      metric: [...new Set(rs.map((r) => r.metric))].sort(byString).join('+'),
      isFull: isFullMethod(first),
      score: stat(rs.map((r) => r.score)),
      heldBytes: meanOf(rs.map((r) => r.kv.heldBytes)),
      slotBytes: meanOf(rs.map((r) => r.kv.slotBytes)),
      fullBytes: meanOf(rs.map((r) => r.kv.fullBytes)),
      nominalBytes: meanOf(rs.map((r) => r.kv.nominalRatio * r.kv.fullBytes)),
      nominalRatio: meanOf(rs.map((r) => r.kv.nominalRatio)),
      measuredRatio: meanOf(rs.map((r) => (r.kv.fullBytes > 0 ? r.kv.heldBytes / r.kv.fullBytes : Number.NaN))),
      promptTokens: meanOf(rs.map((r) => r.promptTokens)),
      ...(fidelity ? { fidelity } : {}),
      flags,
      flaggedCells: rs.filter((r) => r.flags.length > 0).length,
    });
  }
  const bo = budgetOrder(cells);
  return out.sort(
    (a, b) => byString(a.model, b.model) || byString(a.workload, b.workload) || compareMethods(a.methodLabel, b.methodLabel) || bo(a.budget, b.budget),
  );
}

// ---------------------------------------------------------------------------
// Pareto frontier: accuracy vs measured memory, per model and workload

export interface ParetoFrontier {
  readonly model: string;
  readonly workload: string;
  /** Keys of the groups on the frontier, by increasing measured memory. */
  readonly keys: readonly string[];
}

/**
 * The groups no other group beats on both axes (at most as much measured
 * memory and at least the score, one of them strictly). Ties in both keep
 * the first in report order.
 */
export function paretoFrontiers(groups: readonly GroupSummary[]): ParetoFrontier[] {
  const by = new Map<string, GroupSummary[]>();
  for (const g of groups) {
    if (!Number.isFinite(g.heldBytes) || !Number.isFinite(g.score.mean)) continue;
    const k = `${g.model}\u0000${g.workload}`;
    const list = by.get(k);
    if (list) list.push(g);
    else by.set(k, [g]);
  }
  const out: ParetoFrontier[] = [];
  for (const list of by.values()) {
    const first = list[0];
    if (!first) continue;
    const sorted = [...list].sort((a, b) => a.heldBytes - b.heldBytes || b.score.mean - a.score.mean);
    const keys: string[] = [];
    let best = Number.NEGATIVE_INFINITY;
    for (const g of sorted) {
      if (g.score.mean > best) {
        keys.push(g.key);
        best = g.score.mean;
      }
    }
    out.push({ model: first.model, workload: first.workload, keys });
  }
  return out.sort((a, b) => byString(a.model, b.model) || byString(a.workload, b.workload));
}

// ---------------------------------------------------------------------------
// NIAH grids: depth × context length → mean score, per method × budget

export interface NiahGrid {
  readonly model: string;
  readonly workload: string;
  readonly method: string;
  readonly methodLabel: string;
  readonly budget: string;
  /** Needle depths in %, ascending (rows; drawn top to bottom as in gkamradt/KVCache-Factory). */
  readonly depths: readonly number[];
  /** Context lengths in tokens, ascending (columns). */
  readonly lengths: readonly number[];
  /** mean[depth][length]: mean score, null where no sample ran. */
  readonly mean: readonly (readonly (number | null)[])[];
  readonly count: readonly (readonly number[])[];
}

const numMeta = (r: ResultRow, k: string): number | undefined => {
  const v = r.meta[k];
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
};

/**
 * One grid per (model, workload, method, budget) over the cells whose meta
 * has a numeric `depth` and `contextLength`. All grids of a (model,
 * workload) share the same axes so they can be compared side by side.
 */
export function niahGrids(cells: readonly ResultRow[]): NiahGrid[] {
  const niah = cells.filter((r) => numMeta(r, 'depth') !== undefined && numMeta(r, 'contextLength') !== undefined);
  const axes = new Map<string, { depths: Set<number>; lengths: Set<number> }>();
  const groups = new Map<string, ResultRow[]>();
  for (const r of niah) {
    const mw = `${r.model.name}\u0000${r.workload}`;
    const a = axes.get(mw) ?? { depths: new Set<number>(), lengths: new Set<number>() };
    a.depths.add(numMeta(r, 'depth') ?? 0);
    a.lengths.add(numMeta(r, 'contextLength') ?? 0);
    axes.set(mw, a);
    const k = groupKey(r.model.name, r.workload, r.methodLabel, r.budget);
    const g = groups.get(k);
    if (g) g.push(r);
    else groups.set(k, [r]);
  }
  const out: NiahGrid[] = [];
  for (const rs of groups.values()) {
    const first = rs[0];
    if (!first) continue;
    const a = axes.get(`${first.model.name}\u0000${first.workload}`);
    if (!a) continue;
    const depths = [...a.depths].sort((x, y) => x - y);
    const lengths = [...a.lengths].sort((x, y) => x - y);
    const sums = depths.map(() => lengths.map(() => 0));
    const count = depths.map(() => lengths.map(() => 0));
    for (const r of rs) {
      const di = depths.indexOf(numMeta(r, 'depth') ?? Number.NaN);
      const li = lengths.indexOf(numMeta(r, 'contextLength') ?? Number.NaN);
      const srow = sums[di];
      const crow = count[di];
      if (!srow || !crow || li < 0) continue;
      srow[li] = (srow[li] ?? 0) + r.score;
      crow[li] = (crow[li] ?? 0) + 1;
    }
    const mean = sums.map((row, di) => row.map((s, li) => ((count[di]?.[li] ?? 0) > 0 ? s / (count[di]?.[li] ?? 1) : null)));
    out.push({
      model: first.model.name,
      workload: first.workload,
      method: first.method,
      methodLabel: first.methodLabel,
      budget: first.budget,
      depths,
      lengths,
      mean,
      count,
    });
  }
  const bo = budgetOrder(cells);
  return out.sort(
    (a, b) => byString(a.model, b.model) || byString(a.workload, b.workload) || compareMethods(a.methodLabel, b.methodLabel) || bo(a.budget, b.budget),
  );
}

// ---------------------------------------------------------------------------
// Per-layer budgets per allocator, with the LMBA overlay

/** The layer allocator of a method string ("snapkv/zigzagkv+adakv" → "zigzagkv"); null for the full cache. */
export function allocatorOf(method: string): string | null {
  if (method === FULL) return null;
  try {
    const spec = parseMethodSpec(method);
    return spec === 'full' ? null : spec.allocator.id;
  } catch {
    // A method this build does not know (a newer results folder): read the string.
    const main = method.split('+')[0] ?? method;
    const parts = main.split('/');
    return parts[1] ?? parts[0] ?? method;
  }
}

export interface LayerBudgetSeries {
  readonly allocator: string;
  /** Method labels pooled into this allocator's series. */
  readonly methods: readonly string[];
  /** Mean tokens per KV head the allocator gave each layer, over the pooled cells. */
  readonly budgets: readonly number[];
  readonly n: number;
}

export interface LayerBudgetChart {
  readonly model: string;
  readonly budget: string;
  readonly layers: number;
  readonly series: readonly LayerBudgetSeries[];
  /** Mean LMBA per layer (tokens), from the cells' own measurement or else the model's profile rows. */
  readonly lmba?: readonly number[];
  readonly lmbaSource?: 'cells' | 'profile';
}

const meanVectors = (vs: readonly (readonly number[])[], len: number): number[] => {
  const out = new Array<number>(len).fill(0);
  for (const v of vs) for (let i = 0; i < len; i++) out[i] = (out[i] ?? 0) + (v[i] ?? 0);
  return out.map((s) => s / Math.max(1, vs.length));
};

/**
 * Per (model, budget): one series per layer allocator (scorers and Ada-KV do
 * not change the per-layer budgets, so their cells are pooled), each the mean
 * of `kv.layerBudgets` over every cell of that allocator across workloads and
 * samples. The LMBA overlay is the mean of the cells' `lmba` where the
 * allocator measured it (ZigZagKV), else the mean of the model's profile rows.
 */
export function layerBudgetCharts(cells: readonly ResultRow[], profiles: readonly ProfileRow[] = []): LayerBudgetChart[] {
  const by = new Map<string, ResultRow[]>();
  for (const r of cells) {
    if (isFullMethod(r) || r.kv.layerBudgets.length === 0) continue;
    const k = `${r.model.name}\u0000${r.budget}`;
    const list = by.get(k);
    if (list) list.push(r);
    else by.set(k, [r]);
  }
  const out: LayerBudgetChart[] = [];
  for (const rs of by.values()) {
    const first = rs[0];
    if (!first) continue;
    const layers = Math.max(...rs.map((r) => r.kv.layerBudgets.length));
    const perAlloc = new Map<string, ResultRow[]>();
    for (const r of rs) {
      const a = allocatorOf(r.method) ?? r.method;
      const list = perAlloc.get(a);
      if (list) list.push(r);
      else perAlloc.set(a, [r]);
    }
    const series: LayerBudgetSeries[] = [...perAlloc.entries()]
      .sort(([a], [b]) => byString(a, b))
      .map(([allocator, list]) => ({
        allocator,
        methods: [...new Set(list.map((r) => r.methodLabel))].sort(compareMethods),
        budgets: meanVectors(
          list.map((r) => r.kv.layerBudgets),
          layers,
        ),
        n: list.length,
      }));
    const cellLmba = rs.map((r) => r.lmba).filter((l): l is number[] => Array.isArray(l) && l.length === layers);
    const profLmba = profiles.filter((p) => p.model.name === first.model.name && p.lmba.length === layers).map((p) => p.lmba);
    const overlay: Pick<LayerBudgetChart, 'lmba' | 'lmbaSource'> =
      cellLmba.length > 0
        ? { lmba: meanVectors(cellLmba, layers), lmbaSource: 'cells' }
        : profLmba.length > 0
          ? { lmba: meanVectors(profLmba, layers), lmbaSource: 'profile' }
          : {};
    out.push({ model: first.model.name, budget: first.budget, layers, series, ...overlay });
  }
  const bo = budgetOrder(cells);
  return out.sort((a, b) => byString(a.model, b.model) || bo(a.budget, b.budget));
}

// ---------------------------------------------------------------------------
// Fidelity curves: ΔNLL, KL, top-1 vs budget

export interface FidelityPoint {
  readonly budget: string;
  readonly nominalRatio: number;
  readonly heldBytes: number;
  readonly deltaNll: Stat;
  readonly kl: Stat;
  readonly top1: Stat;
}

export interface FidelityCurve {
  readonly methodLabel: string;
  readonly method: string;
  /** By increasing nominal ratio. */
  readonly points: readonly FidelityPoint[];
}

export interface FidelityChart {
  readonly model: string;
  readonly workload: string;
  readonly curves: readonly FidelityCurve[];
}

/** Per (model, workload) with fidelity metrics: one curve per compressed method over its budgets. */
export function fidelityCharts(groups: readonly GroupSummary[]): FidelityChart[] {
  const by = new Map<string, Map<string, GroupSummary[]>>();
  for (const g of groups) {
    if (!g.fidelity || g.isFull) continue;
    const mw = `${g.model}\u0000${g.workload}`;
    const methods = by.get(mw) ?? new Map<string, GroupSummary[]>();
    const list = methods.get(g.methodLabel);
    if (list) list.push(g);
    else methods.set(g.methodLabel, [g]);
    by.set(mw, methods);
  }
  const out: FidelityChart[] = [];
  for (const [mw, methods] of by) {
    const [model = '', workload = ''] = mw.split('\u0000');
    const curves: FidelityCurve[] = [...methods.entries()]
      .sort(([a], [b]) => compareMethods(a, b))
      .map(([methodLabel, list]) => ({
        methodLabel,
        method: list[0]?.method ?? methodLabel,
        points: [...list]
          .sort((a, b) => a.nominalRatio - b.nominalRatio || byString(a.budget, b.budget))
          .map((g) => {
            const f = g.fidelity as FidelityStats;
            return { budget: g.budget, nominalRatio: g.nominalRatio, heldBytes: g.heldBytes, deltaNll: f.deltaNll, kl: f.kl, top1: f.top1 };
          }),
      }));
    out.push({ model, workload, curves });
  }
  return out.sort((a, b) => byString(a.model, b.model) || byString(a.workload, b.workload));
}

// ---------------------------------------------------------------------------
// Layer profiles (kind: 'profile')

export interface ProfileSummary {
  readonly model: string;
  readonly workload: string;
  readonly samples: number;
  readonly tau: number;
  readonly tauO: number;
  readonly lmba: readonly number[];
  readonly lmbo: readonly number[];
}

/** Mean LMBA and LMBO per layer over a (model, workload, τ, τO)'s profile rows. */
export function profileSummaries(profiles: readonly ProfileRow[]): ProfileSummary[] {
  const by = new Map<string, ProfileRow[]>();
  for (const p of profiles) {
    const k = [p.model.name, p.workload, p.tau, p.tauO].join('\u0000');
    const list = by.get(k);
    if (list) list.push(p);
    else by.set(k, [p]);
  }
  const out: ProfileSummary[] = [];
  for (const ps of by.values()) {
    const first = ps[0];
    if (!first) continue;
    const layers = Math.max(...ps.map((p) => p.lmba.length));
    out.push({
      model: first.model.name,
      workload: first.workload,
      samples: ps.length,
      tau: first.tau,
      tauO: first.tauO,
      lmba: meanVectors(
        ps.map((p) => p.lmba),
        layers,
      ),
      lmbo: meanVectors(
        ps.map((p) => p.lmbo),
        layers,
      ),
    });
  }
  return out.sort((a, b) => byString(a.model, b.model) || byString(a.workload, b.workload) || a.tau - b.tau || a.tauO - b.tauO);
}

// ---------------------------------------------------------------------------
// Sanity guards

/**
 * The share of a full-KV group's cells (one model, workload) that must score
 * below the expected baseline before 'low-baseline' is a warning.
 *
 * The runner flags each full-KV cell that scores below what the workload
 * expects, so on a pass/fail metric every single miss is flagged. A model
 * that can do the task still misses some samples — one of 15 gives a mean of
 * 0.93, which says nothing against the harness — whereas a broken harness (a
 * wrong chat template, scorer or truncation) fails most of them. A quarter is
 * the line between the two: below it the misses are listed as a note; at or
 * above it the baseline is too weak to measure compression against, whatever
 * the cause, and that is worth the red warning.
 */
export const LOW_BASELINE_ALARM_SHARE = 0.25;

/** Whether a group's low-baseline cells reach LOW_BASELINE_ALARM_SHARE of its cells. */
export function lowBaselineAlarm(group: readonly Pick<ResultRow, 'flags'>[]): boolean {
  if (group.length === 0) return false;
  return group.filter((r) => r.flags.includes('low-baseline')).length / group.length >= LOW_BASELINE_ALARM_SHARE;
}

/** How 'low-baseline' reads when no group reaches the alarm share. */
const LOW_BASELINE_NOTE =
  "Some full-KV cells scored below what the workload expects, but fewer than a quarter of any baseline group's cells: single misses (a model's ordinary error rate), not a sign of a broken harness.";

export const FLAG_INFO: Readonly<Record<SanityFlag, { readonly severity: 'warning' | 'info'; readonly text: string }>> = {
  'low-baseline': {
    severity: 'warning',
    text: 'The full-KV baseline scored far below what the workload expects: suspect the harness, the prompt template or the model before the compression.',
  },
  'not-compressed': {
    severity: 'warning',
    text: 'A compressed method held as many KV bytes as the full cache although its budget was below the prompt: compression did not run.',
  },
  'state-leak': {
    severity: 'warning',
    text: "Re-running a sample's full-KV cell gave a different output: state leaks between samples.",
  },
  'budget-covers-prompt': {
    severity: 'info',
    text: 'The budget covers the whole prompt, so nothing was compressed.',
  },
  'truncated-to-context': {
    severity: 'warning',
    text: "The prompt was longer than the model's context length and its middle was cut to fit (LongBench's convention): these cells did not test the context length they are labelled with. Use lengths within the model's context.",
  },
  'beyond-context': {
    severity: 'warning',
    text: 'Prompt plus output ran past the context length the model file declares: the model was not trained for these positions, so the results say little about compression.',
  },
  'budget-raised': {
    severity: 'info',
    text: "The budget was below what the method can keep of this prompt (its protected tokens + 1 per layer, or its allocator's minimum) and was raised to the smallest budget that works; the KV numbers are what was kept.",
  },
};

export interface SanityEntry {
  readonly flag: SanityFlag | string;
  readonly severity: 'warning' | 'info';
  readonly text: string;
  readonly cells: number;
  /** "model · workload · method @ budget" of each affected group, in report order. */
  readonly groups: readonly string[];
  /** Up to five affected cell ids, sorted. */
  readonly examples: readonly string[];
}

export const groupLabel = (g: { model: string; workload: string; methodLabel: string; budget: string }): string =>
  `${g.model} · ${g.workload} · ${g.methodLabel} @ ${g.budget}`;

/**
 * Every flag raised by any cell or check row, warnings first, with where it
 * was raised (check rows count as "model · check <name>: detail").
 */
export function sanityReport(cells: readonly ResultRow[], checks: readonly CheckRow[] = []): SanityEntry[] {
  const by = new Map<string, { cells: ResultRow[]; checks: CheckRow[] }>();
  const entry = (f: string): { cells: ResultRow[]; checks: CheckRow[] } => {
    const e = by.get(f) ?? { cells: [], checks: [] };
    by.set(f, e);
    return e;
  };
  for (const r of cells) for (const f of new Set(r.flags)) entry(f).cells.push(r);
  for (const c of checks) for (const f of new Set(c.flags)) entry(f).checks.push(c);
  const out: SanityEntry[] = [];
  for (const [flag, e] of by) {
    let info = (FLAG_INFO as Readonly<Record<string, { severity: 'warning' | 'info'; text: string }>>)[flag] ?? { severity: 'warning' as const, text: flag };
    if (flag === 'low-baseline') {
      // Judged per group of the full cache (every cell of it, not only the flagged ones): see LOW_BASELINE_ALARM_SHARE.
      const keys = new Set(e.cells.map((r) => groupKey(r.model.name, r.workload, r.methodLabel, r.budget)));
      const alarm = [...keys].some((k) => lowBaselineAlarm(cells.filter((r) => groupKey(r.model.name, r.workload, r.methodLabel, r.budget) === k)));
      if (!alarm) info = { severity: 'info', text: LOW_BASELINE_NOTE };
    }
    const checkLabels = e.checks.map((c) => `${c.model.name} · check ${String(c.check)}${c.detail ? `: ${String(c.detail)}` : ''}`).sort(byString);
    out.push({
      flag,
      severity: info.severity,
      text: info.text,
      cells: e.cells.length + e.checks.length,
      groups: [...groupCells(e.cells).map(groupLabel), ...checkLabels],
      examples: [...e.cells, ...e.checks]
        .map((r) => r.cellId)
        .sort(byString)
        .slice(0, 5),
    });
  }
  return out.sort((a, b) => (a.severity === b.severity ? byString(a.flag, b.flag) : a.severity === 'warning' ? -1 : 1));
}

// ---------------------------------------------------------------------------
// Experiment summary and provenance

export interface ExperimentSummary {
  readonly name: string;
  readonly description?: string;
  readonly hash: string;
  readonly createdAt: string;
  readonly models: readonly string[];
  /** Method labels, with their canonical strings. */
  readonly methods: readonly { readonly label: string; readonly method: string }[];
  readonly budgets: readonly string[];
  readonly workloads: readonly string[];
  readonly cells: number;
  /** Distinct (model, workload, sample). */
  readonly samples: number;
  readonly profiles: number;
  /** Earliest and latest row dates (ISO), or '' with no rows. */
  readonly firstDate: string;
  readonly lastDate: string;
}

export function summarize(experiment: ExperimentRecord, rows: ReportRows): ExperimentSummary {
  const def = isObj(experiment.definition) ? experiment.definition : {};
  const { cells, profiles } = rows;
  const methodMap = new Map<string, string>();
  for (const r of cells) methodMap.set(r.methodLabel, r.method);
  const dates = [...cells.map((r) => r.provenance.date), ...profiles.map((p) => p.provenance.date)].filter((d) => typeof d === 'string' && d).sort(byString);
  const models = new Set([...cells.map((r) => r.model.name), ...profiles.map((p) => p.model.name)]);
  const workloads = new Set([...cells.map((r) => r.workload), ...profiles.map((p) => p.workload)]);
  return {
    name: typeof def['name'] === 'string' ? def['name'] : experiment.hash.slice(0, 12),
    ...(typeof def['description'] === 'string' ? { description: def['description'] } : {}),
    hash: experiment.hash,
    createdAt: experiment.createdAt,
    models: [...models].sort(byString),
    methods: [...methodMap.entries()].sort(([a], [b]) => compareMethods(a, b)).map(([label, method]) => ({ label, method })),
    budgets: [...new Set(cells.map((r) => r.budget))].sort(budgetOrder(cells)),
    workloads: [...workloads].sort(byString),
    cells: cells.length,
    samples: new Set(cells.map((r) => `${r.model.name}\u0000${r.workload}\u0000${r.sampleId}`)).size,
    profiles: profiles.length,
    firstDate: dates[0] ?? '',
    lastDate: dates[dates.length - 1] ?? '',
  };
}

export interface ProvenanceEntry {
  readonly appVersion: string;
  readonly commit: string;
  readonly model: string;
  readonly modelSha256: string;
  readonly executionProvider: string;
  readonly threads: number;
  readonly seed: number;
  readonly node: string;
  readonly onnxruntime: string;
  /** "hostname · platform release arch · cpu ×cpus · memory". */
  readonly machine: string;
  readonly firstDate: string;
  readonly lastDate: string;
  /** Rows (cells and profiles) produced under this provenance. */
  readonly rows: number;
}

const GiB = 1024 ** 3;

/** "webgpu · SwiftShader Device (Subzero), vulkan, software adapter": a row's provider with its GPU adapter, when it has one. */
function providerLabel(p: ResultRow['provenance']): string {
  const ep = String(p.executionProvider ?? '');
  const a = isObj(p.adapter) ? p.adapter : undefined;
  if (!a) return ep;
  const kind = a.software === true ? 'software adapter' : a.software === false ? 'hardware adapter' : 'adapter kind unknown';
  return `${ep} · ${a.name ?? 'unnamed adapter'}, ${a.backend}, ${kind}`;
}

/** Distinct provenances (everything but the date), each with the date range and row count. */
export function provenanceTable(rows: ReportRows): ProvenanceEntry[] {
  const all: { model: ResultRow['model']; provenance: ResultRow['provenance'] }[] = [...rows.cells, ...rows.profiles];
  const by = new Map<string, { e: Omit<ProvenanceEntry, 'firstDate' | 'lastDate' | 'rows'>; dates: string[] }>();
  for (const r of all) {
    const p = r.provenance;
    const m = isObj(p.machine) ? (p.machine as ResultRow['provenance']['machine']) : undefined;
    const machine = m ? `${m.hostname} · ${m.platform} ${m.release} ${m.arch} · ${m.cpu} ×${m.cpus} · ${(m.memoryBytes / GiB).toFixed(1)} GiB` : 'unknown';
    const e = {
      appVersion: String(p.appVersion ?? ''),
      commit: String(p.commit ?? ''),
      model: r.model.name,
      modelSha256: String(r.model.sha256 ?? ''),
      executionProvider: providerLabel(p),
      threads: Number(p.threads),
      seed: Number(p.seed),
      node: String(p.node ?? ''),
      onnxruntime: String(p.onnxruntime ?? ''),
      machine,
    };
    const k = JSON.stringify(e);
    const hit = by.get(k);
    if (hit) hit.dates.push(String(p.date ?? ''));
    else by.set(k, { e, dates: [String(p.date ?? '')] });
  }
  return [...by.values()]
    .map(({ e, dates }) => {
      const d = dates.filter(Boolean).sort(byString);
      return { ...e, firstDate: d[0] ?? '', lastDate: d[d.length - 1] ?? '', rows: dates.length };
    })
    .sort((a, b) => byString(a.firstDate, b.firstDate) || byString(a.model, b.model) || byString(JSON.stringify(a), JSON.stringify(b)));
}

// ---------------------------------------------------------------------------
// Everything at once

export interface ReportData {
  readonly summary: ExperimentSummary;
  readonly groups: readonly GroupSummary[];
  readonly pareto: readonly ParetoFrontier[];
  readonly niah: readonly NiahGrid[];
  readonly layerBudgets: readonly LayerBudgetChart[];
  readonly fidelity: readonly FidelityChart[];
  readonly profiles: readonly ProfileSummary[];
  readonly sanity: readonly SanityEntry[];
  readonly provenance: readonly ProvenanceEntry[];
}

/**
 * Everything the report draws. Rows are put in cell-id order first, so that
 * even the floating-point sums do not depend on the order rows were appended
 * in (resumed sweeps and merged shards append in other orders).
 */
export function aggregate(experiment: ExperimentRecord, stored: readonly RowRecord[]): ReportData {
  const split = splitRows(stored);
  const byId = <T extends { readonly cellId: string }>(xs: readonly T[]): T[] => [...xs].sort((a, b) => byString(a.cellId, b.cellId));
  const rows: ReportRows = { cells: byId(split.cells), profiles: byId(split.profiles), checks: byId(split.checks) };
  const groups = groupCells(rows.cells);
  return {
    summary: summarize(experiment, rows),
    groups,
    pareto: paretoFrontiers(groups),
    niah: niahGrids(rows.cells),
    layerBudgets: layerBudgetCharts(rows.cells, rows.profiles),
    fidelity: fidelityCharts(groups),
    profiles: profileSummaries(rows.profiles),
    sanity: sanityReport(rows.cells, rows.checks),
    provenance: provenanceTable(rows),
  };
}
