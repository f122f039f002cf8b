/**
 * The HTML report of a results folder: one self-contained file (inline CSS
 * and SVG, no scripts, no external URLs) that opens in any browser, prints
 * on A4 with a page break between sections, and is the source of the PDF.
 *
 * Why self-contained and script-free: a report is attached to papers,
 * mailed and archived; it must render the same in ten years and offline,
 * and it must not phone home. Why deterministic (no "generated at" clock,
 * stable ordering): the same results folder gives a byte-identical report,
 * so a report can be diffed and checked into a paper's repository.
 *
 * Sections: summary (+ sanity warnings), accuracy vs measured KV memory,
 * NIAH heatmaps, per-layer budgets with the LMBA overlay, fidelity curves,
 * layer profiles, the results table and the provenance table.
 */
import type { StoredExperiment, StoredRow } from '../experiments/store.ts';
import { readExperiment, readRows } from '../experiments/store.ts';
import type { GroupSummary, ReportData } from '@kvlab/core';
// The colours are core's (results/colors.ts), which the app's charts draw in too, so a method has the same colour on screen and on paper.
import { aggregate, allocatorColors, byteUnit, formatFixed, formatPercent, groupLabel, methodColors } from '@kvlab/core';
import type { ChartSeries } from './svg.ts';
import { esc, groupedBarChart, heatmap, xyChart } from './svg.ts';

/** Rows and experiment already in memory (the app, tests) instead of a folder. */
export interface ReportSource {
  readonly experiment: StoredExperiment;
  readonly rows: readonly StoredRow[];
}

export interface HtmlReportOptions {
  /** Overrides "KV Lab report — <experiment name>". */
  readonly title?: string;
  /**
   * The model's trained (pretraining) context length in tokens, for the dashed
   * line on NIAH heatmaps: one number for every model, or per model name.
   * Without it, a numeric `model.contextLength` on the rows is used if present.
   */
  readonly trainedLength?: number | Readonly<Record<string, number>>;
}

export function loadReportSource(dir: string): ReportSource {
  return { experiment: readExperiment(dir), rows: readRows(dir) };
}

const table = (
  cls: string,
  head: readonly string[],
  body: readonly (readonly string[])[],
  numeric: ReadonlySet<number> = new Set(),
  nowrap: ReadonlySet<number> = new Set(),
): string => {
  const c = (i: number): string => (numeric.has(i) ? ' class="num"' : nowrap.has(i) ? ' class="nowrap"' : '');
  return (
    `<table class="${cls}"><thead><tr>${head.map((h, i) => `<th${c(i)}>${esc(h)}</th>`).join('')}</tr></thead><tbody>` +
    body.map((r) => `<tr>${r.map((v, i) => `<td${c(i)}>${v}</td>`).join('')}</tr>`).join('') +
    `</tbody></table>`
  );
};

const CSS = `
*{-webkit-print-color-adjust:exact;print-color-adjust:exact;box-sizing:border-box}
@page{size:A4;margin:12mm 11mm}
body{font:10pt/1.4 Helvetica,Arial,sans-serif;color:#111;max-width:190mm;margin:0 auto;padding:8mm 4mm}
h1{font-size:18pt;margin:0 0 4px}h2{font-size:13.5pt;margin:0 0 8px;border-bottom:2px solid #0072B2;padding-bottom:2px}h3{font-size:11pt;margin:12px 0 6px}
p.sub{color:#555;margin:0 0 12px}p.note{color:#444;font-size:9pt;margin:4px 0 10px}
section{margin-top:18px}h2,h3{break-after:avoid;page-break-after:avoid}
figure{margin:0 0 12px;break-inside:avoid;page-break-inside:avoid}figcaption{font-size:8.5pt;color:#555}
svg{max-width:100%;height:auto;display:block}
.heatmaps{display:grid;grid-template-columns:repeat(2,minmax(0,1fr));gap:6px 10px}
table{border-collapse:collapse;width:100%;font-size:8.5pt;margin:0 0 10px}
.table-scroll{max-width:100%;overflow-x:auto;margin:0 0 10px}.table-scroll>table{margin:0}
table.results th{white-space:nowrap}table.results td:not(.num){overflow-wrap:break-word}
th,td{border-bottom:1px solid #ddd;padding:2px 4px;text-align:left;vertical-align:top}
th{background:#f2f4f7;font-weight:600}td.nowrap{white-space:nowrap}td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
thead{display:table-header-group}tr{break-inside:avoid;page-break-inside:avoid}
table.summary th{width:26%;background:none}
code,.mono{font-family:"DejaVu Sans Mono",Menlo,Consolas,monospace;font-size:8pt;word-break:break-all}
.warnings{border:1px solid #d55e00;background:#fff4ec;padding:6px 10px;margin:10px 0}
.warnings h3{margin:0 0 4px;color:#a33c00}.info{border-color:#56b4e9;background:#eef7fd}.info h3{color:#1f6e99}
.warnings ul{margin:2px 0 2px 18px;padding:0}.warnings li{margin:2px 0}
.flag{display:inline-block;background:#d55e00;color:#fff;border-radius:3px;padding:0 4px;font-size:7.5pt;margin:1px 2px 1px 0}
.flag.info{background:#56b4e9}
nav ol{margin:4px 0 0 18px;padding:0;columns:2}
@media print{body{padding:0;max-width:none}.table-scroll{overflow:visible}table.results{font-size:7.5pt}}
`;

// ---------------------------------------------------------------------------

const sectionIds = ['summary', 'accuracy', 'niah', 'layers', 'fidelity', 'profiles', 'results', 'provenance'] as const;

/**
 * Renders the report of a results folder (its path) or of rows already in
 * memory. Throws StoreError for an unreadable folder and ReportError for a
 * row the report cannot read.
 */
export function renderHtmlReport(source: string | ReportSource, options: HtmlReportOptions = {}): string {
  const src = typeof source === 'string' ? loadReportSource(source) : source;
  const data = aggregate(src.experiment, src.rows);
  const title = options.title ?? `KV Lab report — ${data.summary.name}`;

  const methodColor = methodColors(data.summary.methods);
  const colorOf = (label: string): string => methodColor.get(label) ?? '#000000';

  const trained = (model: string): number | undefined => {
    const t = options.trainedLength;
    if (typeof t === 'number') return t;
    if (t && typeof t[model] === 'number') return t[model];
    for (const r of src.rows) {
      const m = (r as unknown as Readonly<Record<string, unknown>>)['model'] as { name?: unknown; contextLength?: unknown } | undefined;
      if (m && m.name === model && typeof m.contextLength === 'number') return m.contextLength;
    }
    return undefined;
  };

  const sections: string[] = [];
  const present = new Set<string>();
  const add = (id: (typeof sectionIds)[number], body: string): void => {
    if (!body) return;
    present.add(id);
    sections.push(`<section id="${id}"${sections.length === 0 ? ' class="first"' : ''}>${body}</section>`);
  };

  add('summary', summarySection(title, data));
  add('accuracy', accuracySection(data, colorOf));
  add('niah', niahSection(data, trained));
  add('layers', layersSection(data));
  add('fidelity', fidelitySection(data, colorOf));
  add('profiles', profilesSection(data));
  add('results', resultsSection(data));
  add('provenance', provenanceSection(data));

  const names: Record<(typeof sectionIds)[number], string> = {
    summary: 'Summary',
    accuracy: 'Accuracy vs measured KV memory',
    niah: 'Needle in a haystack',
    layers: 'Per-layer budgets',
    fidelity: 'Fidelity',
    profiles: 'Layer profiles',
    results: 'Results table',
    provenance: 'Provenance',
  };
  const nav = `<nav><ol>${sectionIds
    .filter((id) => present.has(id))
    .map((id) => `<li><a href="#${id}">${esc(names[id])}</a></li>`)
    .join('')}</ol></nav>`;
  const first = sections[0] ?? '';
  sections[0] = first.replace('<!--nav-->', nav);

  return (
    `<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">` +
    `<meta name="generator" content="KV Lab"><title>${esc(title)}</title><style>${CSS}</style></head>\n<body>\n${sections.join('\n')}\n</body></html>\n`
  );
}

// ---------------------------------------------------------------------------
// Sections

function summarySection(title: string, d: ReportData): string {
  const s = d.summary;
  const dates = s.firstDate ? (s.firstDate === s.lastDate ? s.firstDate : `${s.firstDate} — ${s.lastDate}`) : '–';
  const rows: [string, string][] = [
    ['Experiment', esc(s.name)],
    ...(s.description ? ([['Description', esc(s.description)]] as [string, string][]) : []),
    ['Definition hash', `<code>${esc(s.hash)}</code>`],
    ['Created', esc(s.createdAt || '–')],
    ['Rows dated', esc(dates)],
    ['Models', esc(s.models.join(', ') || '–')],
    ['Methods', s.methods.map((m) => (m.label === m.method ? esc(m.label) : `${esc(m.label)} <span class="mono">(${esc(m.method)})</span>`)).join(', ') || '–'],
    ['Budgets', esc(s.budgets.join(', ') || '–')],
    ['Workloads', esc(s.workloads.join(', ') || '–')],
    ['Cells', String(s.cells)],
    ['Samples', String(s.samples)],
    ['Profile rows', String(s.profiles)],
  ];
  let h = `<h1>${esc(title)}</h1><p class="sub">${esc(`${s.cells} cells · ${s.models.length} model(s) · ${s.methods.length} method(s) · ${s.budgets.length} budget(s) · ${s.workloads.length} workload(s)`)}</p>`;
  h += `<h2>Summary</h2><table class="summary"><tbody>${rows.map(([k, v]) => `<tr><th>${esc(k)}</th><td>${v}</td></tr>`).join('')}</tbody></table>`;
  const warn = d.sanity.filter((e) => e.severity === 'warning');
  const info = d.sanity.filter((e) => e.severity === 'info');
  const list = (es: typeof d.sanity): string =>
    `<ul>${es
      .map(
        (e) =>
          `<li><strong>${esc(e.flag)}</strong> — ${esc(e.text)} ${esc(`(${e.cells} cell${e.cells === 1 ? '' : 's'})`)}<br><span class="note">${esc(e.groups.join('; '))}</span></li>`,
      )
      .join('')}</ul>`;
  if (warn.length) h += `<div class="warnings" role="alert"><h3>Sanity-guard warnings</h3>${list(warn)}</div>`;
  if (info.length) h += `<div class="warnings info"><h3>Notes</h3>${list(info)}</div>`;
  return `${h}<!--nav-->`;
}

function accuracySection(d: ReportData, colorOf: (label: string) => string): string {
  const byMw = new Map<string, GroupSummary[]>();
  for (const g of d.groups) {
    const k = `${g.model}\u0000${g.workload}`;
    const list = byMw.get(k);
    if (list) list.push(g);
    else byMw.set(k, [g]);
  }
  if (byMw.size === 0) return '';
  let h = `<h2>Accuracy vs measured KV memory</h2><p class="note">Mean score over samples (error bars: 95 % CI) against the KV bytes the cache really held after compression (filled markers, joined per method). Hollow diamonds mark the nominal budget (keep ratio × full cache) at the same score: a gap between the two is memory the method promised but did not free. The dashed grey line is the Pareto frontier (no other cell scores more with less measured memory).</p>`;
  for (const [mw, gs] of byMw) {
    const [model = '', workload = ''] = mw.split('\u0000');
    h += `<figure>${accuracyChart(d, gs, { model, workload, colorOf })}</figure>`;
  }
  return h;
}

/** One model and workload's accuracy chart: measured series per method, the nominal markers, the Pareto frontier. */
function accuracyChart(d: ReportData, gs: readonly GroupSummary[], at: { model: string; workload: string; colorOf: (label: string) => string }): string {
  const unit = byteUnit(Math.max(...gs.map((g) => Math.max(g.heldBytes, g.nominalBytes, g.fullBytes)).filter(Number.isFinite), 0));
  const methods = [...new Set(gs.map((g) => g.methodLabel))];
  const series: ChartSeries[] = [
    ...methods.map((m) => measuredSeries(gs, m, at.colorOf(m), unit.div)),
    ...methods.flatMap((m) => nominalSeries(gs, m, at.colorOf(m), unit.div)),
    ...frontierSeries(d, gs, at, unit.div),
  ];
  const unitScore = gs.every((g) => g.score.mean >= 0 && g.score.mean <= 1);
  const metric = [...new Set(gs.map((g) => g.metric))].join(', ');
  return xyChart({
    title: `${at.model} · ${at.workload}`,
    xLabel: `measured KV cache (${unit.name})`,
    yLabel: `score (${metric})`,
    series,
    notes: [
      { marker: 'circle', color: '#555555', label: 'measured KV bytes' },
      { marker: 'diamond', hollow: true, color: '#555555', label: 'nominal budget' },
    ],
    xFromZero: true,
    ...(unitScore ? { yDomain: [0, 1] as const } : {}),
  });
}

/** A method's groups at the bytes they really held, with the score's 95 % CI. */
function measuredSeries(gs: readonly GroupSummary[], m: string, color: string, div: number): ChartSeries {
  const pts = gs.filter((g) => g.methodLabel === m).sort((a, b) => a.heldBytes - b.heldBytes);
  return {
    name: m,
    color,
    marker: 'circle',
    points: pts.map((g) => ({
      x: g.heldBytes / div,
      y: g.score.mean,
      err: g.score.ci95,
      label: `${groupLabel(g)}: ${formatFixed(g.score.mean, 3)} ± ${formatFixed(g.score.ci95, 3)}`,
    })),
  };
}

/** The same groups at their nominal budget (hollow diamonds, no line, not in the legend); none for the full cache. */
function nominalSeries(gs: readonly GroupSummary[], m: string, color: string, div: number): ChartSeries[] {
  const pts = gs.filter((g) => g.methodLabel === m && !g.isFull).sort((a, b) => a.nominalBytes - b.nominalBytes);
  if (!pts.length) return [];
  return [
    {
      name: `${m} (nominal)`,
      color,
      marker: 'diamond',
      hollow: true,
      line: 'none',
      legend: false,
      role: 'nominal',
      points: pts.map((g) => ({
        x: g.nominalBytes / div,
        y: g.score.mean,
        label: `${groupLabel(g)}: nominal ${formatPercent(g.nominalRatio)} of the full cache`,
      })),
    },
  ];
}

/** The dashed Pareto frontier through the model and workload's frontier groups, when it has two points or more. */
function frontierSeries(d: ReportData, gs: readonly GroupSummary[], at: { model: string; workload: string }, div: number): ChartSeries[] {
  const front = d.pareto.find((p) => p.model === at.model && p.workload === at.workload);
  if (!front || front.keys.length <= 1) return [];
  const pts = front.keys.map((k) => gs.find((g) => g.key === k)).filter((g): g is GroupSummary => g !== undefined);
  return [{ name: 'Pareto frontier', color: '#9a9a9a', line: 'dashed', role: 'frontier', points: pts.map((g) => ({ x: g.heldBytes / div, y: g.score.mean })) }];
}

function niahSection(d: ReportData, trained: (model: string) => number | undefined): string {
  if (d.niah.length === 0) return '';
  let h = `<h2>Needle in a haystack</h2><p class="note">Mean score per cell: needle depth (% of the haystack, 0 = start) down, context length in tokens across; dark purple → yellow for 0 → 1 (viridis, readable with colour-blindness and in greyscale; each cell prints its value). A dashed line marks the model's trained context length where it falls inside the grid.</p>`;
  const byMw = new Map<string, typeof d.niah>();
  for (const g of d.niah) {
    const k = `${g.model}\u0000${g.workload}`;
    byMw.set(k, [...(byMw.get(k) ?? []), g]);
  }
  for (const [mw, grids] of byMw) {
    const [model = '', workload = ''] = mw.split('\u0000');
    const t = trained(model);
    h += `<h3>${esc(`${model} · ${workload}`)}</h3>`;
    if (t !== undefined) h += `<p class="note">${esc(`Trained context length: ${t} tokens.`)}</p>`;
    h += `<div class="heatmaps">`;
    for (const g of grids)
      h += `<figure class="heatmap" data-method="${esc(g.methodLabel)}" data-budget="${esc(g.budget)}">${heatmap({
        title: g.budget === 'full' ? g.methodLabel : `${g.methodLabel} @ ${g.budget}`,
        xValues: g.lengths,
        yValues: g.depths,
        values: g.mean,
        ...(t !== undefined ? { markX: t, markLabel: `trained length ${t} tokens` } : {}),
      })}</figure>`;
    h += `</div>`;
  }
  return h;
}

function layersSection(d: ReportData): string {
  if (d.layerBudgets.length === 0) return '';
  const colors = allocatorColors(d.layerBudgets.flatMap((c) => c.series.map((s) => s.allocator)));
  const color = (a: string): string => colors.get(a) ?? '#000000';
  let h = `<h2>Per-layer budgets</h2><p class="note">Tokens per KV head each layer allocator gave each layer, averaged over every cell of that allocator at the budget (scorers and Ada-KV do not change the layer split, so their cells are pooled). The line is the mean LMBA per layer (the fewest tokens that keep τ of a layer's attention mass, ZigZagKV §2.1) on the right-hand axis.</p>`;
  for (const c of d.layerBudgets) {
    h += `<figure>${groupedBarChart({
      title: `${c.model} @ ${c.budget}`,
      xLabel: 'layer',
      yLabel: 'budget (tokens per KV head)',
      categories: Array.from({ length: c.layers }, (_, i) => String(i)),
      series: c.series.map((s) => ({ name: s.allocator, color: color(s.allocator), values: s.budgets })),
      ...(c.lmba
        ? { overlay: { name: c.lmbaSource === 'profile' ? 'LMBA (profile)' : 'LMBA', color: '#111111', values: c.lmba, axisLabel: 'LMBA (tokens)' } }
        : {}),
    })}<figcaption>${esc(c.series.map((s) => `${s.allocator}: ${s.methods.join(', ')} (${s.n} cells)`).join(' · '))}</figcaption></figure>`;
  }
  return h;
}

function fidelitySection(d: ReportData, colorOf: (label: string) => string): string {
  if (d.fidelity.length === 0) return '';
  let h = `<h2>Fidelity</h2><p class="note">Teacher-forced fidelity of each compressed cache against the full cache on the same samples, against the nominal keep ratio: ΔNLL (nats/token, lower is better) and KL(full || compressed) (lower is better). Error bars: 95 % CI over samples.</p>`;
  for (const c of d.fidelity) {
    h += `<h3>${esc(`${c.model} · ${c.workload}`)}</h3>`;
    for (const [key, label] of [
      ['deltaNll', 'ΔNLL (nats/token)'],
      ['kl', 'KL(full || compressed)'],
    ] as const) {
      h += `<figure>${xyChart({
        title: `${label} vs budget`,
        xLabel: 'nominal keep ratio (%)',
        yLabel: label,
        series: c.curves.map((cv) => ({
          name: cv.methodLabel,
          color: colorOf(cv.methodLabel),
          marker: 'circle',
          points: cv.points.map((p) => ({
            x: p.nominalRatio * 100,
            y: p[key].mean,
            err: p[key].ci95,
            label: `${cv.methodLabel} @ ${p.budget}: ${formatFixed(p[key].mean, 4)}`,
          })),
        })),
        xFromZero: true,
        yFromZero: true,
        height: 280,
      })}</figure>`;
    }
  }
  return h;
}

function profilesSection(d: ReportData): string {
  if (d.profiles.length === 0) return '';
  let h = `<h2>Layer profiles</h2><p class="note">LMBA (fewest tokens keeping τ of the attention mass) and LMBO (fewest tokens whose attention output keeps cosine ≥ τO with the full output) per layer, averaged over the profiled samples — the analysis figures of the ZigZagKV paper.</p>`;
  for (const p of d.profiles) {
    h += `<figure>${xyChart({
      title: `${p.model} · ${p.workload} (τ = ${p.tau}, τO = ${p.tauO}, ${p.samples} sample${p.samples === 1 ? '' : 's'})`,
      xLabel: 'layer',
      yLabel: 'tokens',
      series: [
        { name: 'LMBA', color: '#0072B2', marker: 'circle', points: p.lmba.map((v, i) => ({ x: i, y: v })) },
        { name: 'LMBO', color: '#D55E00', marker: 'square', points: p.lmbo.map((v, i) => ({ x: i, y: v })) },
      ],
      yFromZero: true,
      height: 260,
    })}</figure>`;
  }
  return h;
}

function resultsSection(d: ReportData): string {
  if (d.groups.length === 0) return '';
  const unit = byteUnit(Math.max(0, ...d.groups.map((g) => g.heldBytes).filter(Number.isFinite)));
  const anyFid = d.groups.some((g) => g.fidelity);
  const head = [
    'Model',
    'Workload',
    'Method',
    'Budget',
    'n',
    'Score',
    '± 95% CI',
    'Std',
    'Metric',
    `KV held (${unit.name})`,
    'Nominal',
    'Measured',
    ...(anyFid ? ['ΔNLL', 'KL', 'Top-1'] : []),
    'Flags',
  ];
  const numeric = new Set([4, 5, 6, 7, 9, 10, 11, ...(anyFid ? [12, 13, 14] : [])]);
  // Names may break after '/', '-' or '_' (snapkv/<wbr>zigzagkv) rather than anywhere or not at all.
  const breakable = (t: string): string => esc(t).replace(/([/_-])/g, '$1<wbr>');
  const body = d.groups.map((g) => [
    breakable(g.model),
    breakable(g.workload),
    breakable(g.methodLabel),
    esc(g.budget),
    String(g.score.n),
    formatFixed(g.score.mean, 3),
    formatFixed(g.score.ci95, 3),
    formatFixed(g.score.std, 3),
    esc(g.metric),
    formatFixed(g.heldBytes / unit.div, 2),
    formatPercent(g.nominalRatio),
    formatPercent(g.measuredRatio),
    ...(anyFid
      ? g.fidelity
        ? [formatFixed(g.fidelity.deltaNll.mean, 4), formatFixed(g.fidelity.kl.mean, 4), formatFixed(g.fidelity.top1.mean, 3)]
        : ['', '', '']
      : []),
    g.flags.map((fl) => `<span class="flag${fl === 'budget-covers-prompt' ? ' info' : ''}">${esc(fl)}</span>`).join(''),
  ]);
  // Text columns wrap (a long model or method name must not push the table past the page); on screen a table that still
  // does not fit scrolls inside its own box rather than spilling over the margin.
  return `<h2>Results table</h2><p class="note">One row per (model, workload, method, budget): mean over samples. Nominal: the budget as a share of the prompt's KV cache; measured: the KV bytes held after compression as a share of the full cache.</p><div class="table-scroll">${table('results', head, body, numeric)}</div>`;
}

function provenanceSection(d: ReportData): string {
  if (d.provenance.length === 0) return '';
  // One key–value table per distinct provenance: hashes get a whole line (no wrapping in print or in pdftotext),
  // and a sweep normally has one or a few (shards on several machines).
  const blocks = d.provenance.map((p, i) => {
    const rows: [string, string][] = [
      ['App version', esc(p.appVersion)],
      ['Commit', `<code>${esc(p.commit)}</code>`],
      ['Model', esc(p.model)],
      ['Model sha256', `<code>${esc(p.modelSha256)}</code>`],
      ['Execution provider', esc(p.executionProvider)],
      ['Threads', String(p.threads)],
      ['Seed', String(p.seed)],
      ['Date', esc(p.firstDate === p.lastDate ? p.firstDate : `${p.firstDate} — ${p.lastDate}`)],
      ['Machine', esc(p.machine)],
      ['Node / ONNX Runtime', esc(`${p.node} / ${p.onnxruntime}`)],
      ['Rows', String(p.rows)],
    ];
    const title = d.provenance.length > 1 ? `<h3>${esc(`Provenance ${i + 1} of ${d.provenance.length}`)}</h3>` : '';
    return `${title}<table class="provenance summary" data-rows="${p.rows}"><tbody>${rows.map(([k, v]) => `<tr><th>${esc(k)}</th><td>${v}</td></tr>`).join('')}</tbody></table>`;
  });
  return `<h2>Provenance</h2><p class="note">Which code, model file, machine and settings produced the rows; one table per distinct combination.</p>${blocks.join('')}`;
}
