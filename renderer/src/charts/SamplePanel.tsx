/**
 * The cells behind a clicked point or heatmap cell: a list of the samples
 * (score, method @ budget) and the detail of the chosen one — answer,
 * prediction, score, fidelity metrics, the KV memory held against the full
 * cache, the per-layer budgets, the sanity flags with their explanation, and
 * the retention map when the run recorded kept positions.
 *
 * The prompt text is not part of a result row (rows stay small: thousands
 * stream into the UI while a run goes), so the panel fetches it with
 * `getSample` (cached per API, run and sample) and shows it with the
 * retention overlay on its tokens when the row has kept positions.
 */
import type { AnyRow, CheckRow, LabApi, ResultRow, SampleDetail } from '@kvlab/core';
import { FLAG_INFO, formatBytesFixed, formatFixed, formatPercent } from '@kvlab/core';
import type { ReactNode } from 'react';
import { useEffect, useMemo, useRef, useState } from 'react';
import { RetentionOverlay } from '../components/RetentionOverlay.tsx';
import { RetentionMap } from './RetentionMap.tsx';

export interface SamplePanelProps {
  /** What was clicked, e.g. "snapkv/uniform @ 20% · depth 50%, 512 tokens". */
  readonly label: string;
  readonly cellIds: readonly string[];
  /** Every row of the run, by cell id. */
  readonly rowsById: ReadonlyMap<string, AnyRow>;
  readonly onClose?: () => void;
  readonly testId?: string;
  /** Where the prompt comes from (getSample); without it, or without a run, the panel shows the row's facts only. */
  readonly api?: Pick<LabApi, 'getSample'>;
  readonly runId?: string | null;
}

/** Fetched samples, per API object, by run and sample id (a sample is shared by every cell of its group). */
const sampleCache = new WeakMap<object, Map<string, Promise<SampleDetail>>>();

function fetchSample(api: Pick<LabApi, 'getSample'>, runId: string, sampleId: string): Promise<SampleDetail> {
  let byKey = sampleCache.get(api);
  if (!byKey) sampleCache.set(api, (byKey = new Map()));
  const key = `${runId}\u0000${sampleId}`;
  let p = byKey.get(key);
  if (!p) {
    p = api.getSample({ runId, sampleId });
    byKey.set(key, p);
    // A failure is not cached: the next selection asks again.
    p.catch(() => byKey.delete(key));
  }
  return p;
}

type SampleState =
  { readonly state: 'loading' } | { readonly state: 'ok'; readonly sample: SampleDetail } | { readonly state: 'error'; readonly message: string };

function useSample(api: Pick<LabApi, 'getSample'> | undefined, runId: string | null | undefined, sampleId: string | undefined): SampleState | null {
  const [s, setS] = useState<SampleState | null>(null);
  useEffect(() => {
    if (!api || !runId || sampleId === undefined) {
      setS(null);
      return;
    }
    let live = true;
    setS({ state: 'loading' });
    fetchSample(api, runId, sampleId).then(
      (sample) => {
        if (live) setS({ state: 'ok', sample });
      },
      (e: unknown) => {
        if (live) setS({ state: 'error', message: e instanceof Error ? e.message : String(e) });
      },
    );
    return () => {
      live = false;
    };
  }, [api, runId, sampleId]);
  return s;
}

function SamplePrompt({ row, sample }: { row: ResultRow; sample: SampleState | null }): ReactNode {
  const [layer, setLayer] = useState(0);
  if (!sample) return null;
  if (sample.state === 'loading')
    return (
      <p className="muted small" data-testid="sample-prompt-loading">
        Loading the prompt…
      </p>
    );
  if (sample.state === 'error')
    return (
      <p className="muted small" role="alert" data-testid="sample-prompt-error">
        Prompt unavailable: {sample.message}
      </p>
    );
  const { prompt, tokens } = sample.sample;
  const kept = row.kept ?? [];
  const overlay = kept.length > 0 && tokens.length > 0;
  const layers = kept.length;
  const l = Math.min(layer, Math.max(0, layers - 1));
  return (
    <div>
      <h3>Prompt</h3>
      <pre data-testid="sample-prompt" className="small" style={{ whiteSpace: 'pre-wrap', maxHeight: 200, overflow: 'auto', margin: '4px 0' }}>
        {prompt}
      </pre>
      {overlay ? (
        <div>
          <label className="small">
            Layer <strong data-testid="sample-layer-value">{l}</strong>{' '}
            <input type="range" min={0} max={Math.max(0, layers - 1)} value={l} onChange={(e) => setLayer(Number(e.target.value))} data-testid="sample-layer" />
          </label>
          <RetentionOverlay tokens={tokens} kept={kept} layer={l} head="all" testId="sample-retention-overlay" />
        </div>
      ) : null}
    </div>
  );
}

/** More cells than this are listed as a count (a group can pool hundreds of samples); the first ones stay pickable. */
const LIST_MAX = 200;

const flagText = (f: string): string => (FLAG_INFO as Readonly<Record<string, { text: string } | undefined>>)[f]?.text ?? f;

function CellDetail({ row, sample }: { row: ResultRow; sample: SampleState | null }): ReactNode {
  return (
    <div data-testid="sample-detail" data-cell={row.cellId}>
      <dl className="facts" style={{ display: 'grid', gridTemplateColumns: 'auto 1fr', gap: '2px 10px', margin: '6px 0' }}>
        <OutcomeFacts row={row} />
        <CostFacts row={row} />
      </dl>
      {row.flags.length ? (
        <ul data-testid="sample-flags" role="alert" className="notice" style={{ margin: '4px 0', paddingLeft: 18 }}>
          {row.flags.map((f) => (
            <li key={f}>
              <strong>{f}</strong>: {flagText(f)}
            </li>
          ))}
        </ul>
      ) : null}
      <SamplePrompt row={row} sample={sample} />
      {row.kept && row.kept.length ? (
        <div>
          <h3>Kept positions per layer</h3>
          <RetentionMap kept={row.kept} promptTokens={row.promptTokens} />
        </div>
      ) : (
        <p className="muted small">No retention recorded for this cell (set the experiment's record.kept to keep positions).</p>
      )}
    </div>
  );
}

/** What the cell is and how it did: sample, method @ budget, score, answer, prediction, fidelity. */
function OutcomeFacts({ row }: { row: ResultRow }): ReactNode {
  return (
    <>
      <dt>sample</dt>
      <dd className="mono">{row.sampleId}</dd>
      <dt>method</dt>
      <dd>
        {row.methodLabel} @ {row.budget}
      </dd>
      <dt>score</dt>
      <dd data-testid="sample-score">
        {formatFixed(row.score, 3)} <span className="muted">({row.metric})</span>
      </dd>
      <dt>answer</dt>
      <dd data-testid="sample-answer">{row.answers.length ? row.answers.join(' | ') : <span className="muted">— (scored from logits)</span>}</dd>
      <dt>prediction</dt>
      <dd data-testid="sample-prediction" style={{ whiteSpace: 'pre-wrap' }}>
        {row.prediction || <span className="muted">—</span>}
      </dd>
      {row.fidelity ? (
        <>
          <dt>fidelity</dt>
          <dd>
            ΔNLL {formatFixed(row.fidelity.deltaNll, 4)} · KL {formatFixed(row.fidelity.kl, 4)} · top-1 {formatFixed(row.fidelity.top1, 3)} · greedy prefix{' '}
            {row.fidelity.greedyPrefix}
          </dd>
        </>
      ) : null}
    </>
  );
}

/** What the cell held: KV bytes against the full cache, the prompt (with its metadata), the per-layer budgets. */
function CostFacts({ row }: { row: ResultRow }): ReactNode {
  // A long prompt text in the metadata would swamp the line; it shows under Prompt instead.
  const metaEntries = Object.entries(row.meta).filter(([k]) => k !== 'text' || typeof row.meta[k] !== 'string' || String(row.meta[k]).length < 200);
  return (
    <>
      <dt>KV held</dt>
      <dd>
        {formatBytesFixed(row.kv.heldBytes)} of {formatBytesFixed(row.kv.fullBytes)} (
        {formatPercent(row.kv.fullBytes > 0 ? row.kv.heldBytes / row.kv.fullBytes : Number.NaN)}; nominal {formatPercent(row.kv.nominalRatio)})
      </dd>
      <dt>prompt</dt>
      <dd>
        {row.promptTokens} tokens
        {metaEntries.length ? <span className="muted"> · {metaEntries.map(([k, v]) => `${k} ${String(v)}`).join(' · ')}</span> : null}
      </dd>
      {row.kv.layerBudgets.length ? (
        <>
          <dt>layer budgets</dt>
          <dd className="mono">{row.kv.layerBudgets.join(' ')}</dd>
        </>
      ) : null}
    </>
  );
}

function CheckDetail({ row }: { row: CheckRow }): ReactNode {
  return (
    <div data-testid="sample-detail" data-cell={row.cellId}>
      <p>
        <strong>check {row.check}</strong>: {row.passed ? 'passed' : 'FAILED'} — {row.detail}
      </p>
      {row.flags.map((f) => (
        <p key={f} role="alert">
          <strong>{f}</strong>: {flagText(f)}
        </p>
      ))}
    </div>
  );
}

export function SamplePanel(p: SamplePanelProps): ReactNode {
  const found = useMemo(() => p.cellIds.map((id) => p.rowsById.get(id)).filter((r): r is AnyRow => r !== undefined), [p.cellIds, p.rowsById]);
  const [chosen, setChosen] = useState<string | null>(found[0]?.cellId ?? null);
  useEffect(() => setChosen(found[0]?.cellId ?? null), [found]);
  const row = found.find((r) => r.cellId === chosen) ?? found[0];
  const sample = useSample(p.api, p.runId, row?.kind === 'cell' ? row.sampleId : undefined);
  // A new selection made far down a page must not open with its top (label, answer, prediction, score) off-screen.
  const box = useRef<HTMLElement>(null);
  useEffect(() => {
    const el = box.current;
    if (!el || typeof el.scrollIntoView !== 'function' || typeof window === 'undefined') return;
    const top = el.getBoundingClientRect().top;
    if (top < 0 || top > window.innerHeight - 80) el.scrollIntoView({ block: 'start' });
  }, [p.cellIds]);
  return (
    <aside ref={box} className="card sample-panel" data-testid={p.testId ?? 'sample-panel'} aria-label="selected samples">
      <div className="row spread">
        <strong>{p.label}</strong>
        {p.onClose ? (
          <button type="button" onClick={p.onClose} data-testid="sample-panel-close" aria-label="close the sample panel">
            ×
          </button>
        ) : null}
      </div>
      <p className="muted small" data-testid="sample-count">
        {found.length} cell{found.length === 1 ? '' : 's'}
        {found.length < p.cellIds.length ? ` (${p.cellIds.length - found.length} not loaded yet)` : ''}
      </p>
      {found.length > 1 ? (
        <ul className="sample-list" style={{ listStyle: 'none', padding: 0, margin: '0 0 6px', maxHeight: 180, overflow: 'auto' }}>
          {found.slice(0, LIST_MAX).map((r) => (
            <li key={r.cellId}>
              <button
                type="button"
                data-testid="sample-item"
                data-cell={r.cellId}
                aria-pressed={r.cellId === row?.cellId}
                onClick={() => setChosen(r.cellId)}
                style={{ width: '100%', textAlign: 'left', fontWeight: r.cellId === row?.cellId ? 600 : 400 }}
              >
                {r.kind === 'cell' ? `${r.sampleId} · ${r.methodLabel} @ ${r.budget} · ${formatFixed(r.score, 2)}${r.flags.length ? ' ⚠' : ''}` : r.cellId}
              </button>
            </li>
          ))}
          {found.length > LIST_MAX ? <li className="muted small">… and {found.length - LIST_MAX} more</li> : null}
        </ul>
      ) : null}
      {row?.kind === 'cell' ? <CellDetail row={row} sample={sample} /> : row?.kind === 'check' ? <CheckDetail row={row} /> : null}
    </aside>
  );
}
