/**
 * The experiment's summary (what ran, how many cells) and the provenance table (versions, machines and providers the rows came from).
 */
import type { ResultRow } from '../api/rows.ts';
import { budgetOrder, byString, compareMethods } from './order.ts';
import type { ExperimentRecord, ReportRows } from './rows.ts';
import { isObj } from './rows.ts';

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
