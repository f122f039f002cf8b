/**
 * Which prompt positions a compressed cache kept, for every layer at once: a
 * layers × positions map, shaded by the share of the layer's KV heads that
 * kept each position (row.kept, recorded when the experiment asks for it).
 * Result rows carry positions, not the prompt's text, so this is the
 * position view; the Playground's RetentionOverlay shows the tokens.
 *
 * Drawn as runs of equal shade (one rect per run, not per token), so a
 * 32K-token prompt over 32 layers stays a few thousand elements.
 */
import type { ReactNode } from 'react';
import { memo, useMemo } from 'react';
import { CHART_THEME } from './theme.ts';

export interface RetentionMapProps {
  /** [layer][kvHead] → kept positions. */
  readonly kept: readonly (readonly (readonly number[])[])[];
  readonly promptTokens: number;
  readonly width?: number;
  readonly rowHeight?: number;
  readonly testId?: string;
}

interface Run {
  readonly start: number;
  readonly end: number;
  readonly share: number;
}

/** Runs of equal kept-share per layer (share 0 runs omitted). */
export function retentionRuns(kept: RetentionMapProps['kept'], n: number): Run[][] {
  return kept.map((heads) => {
    const count = new Uint16Array(Math.max(0, n));
    for (const positions of heads) for (const p of positions) if (p >= 0 && p < n) count[p] = (count[p] ?? 0) + 1;
    const runs: Run[] = [];
    const h = Math.max(1, heads.length);
    let i = 0;
    while (i < n) {
      const c = count[i] ?? 0;
      let j = i + 1;
      while (j < n && count[j] === c) j++;
      if (c > 0) runs.push({ start: i, end: j, share: c / h });
      i = j;
    }
    return runs;
  });
}

function RetentionMapImpl(p: RetentionMapProps): ReactNode {
  const runs = useMemo(() => retentionRuns(p.kept, p.promptTokens), [p.kept, p.promptTokens]);
  const width = p.width ?? 480;
  const rh = p.rowHeight ?? 8;
  const left = 26;
  const pw = width - left - 4;
  const sx = pw / Math.max(1, p.promptTokens);
  const height = runs.length * rh + 16;
  const keptShare = runs.map((rs) => rs.reduce((a, r) => a + (r.end - r.start) * r.share, 0) / Math.max(1, p.promptTokens));
  return (
    <svg
      data-chart-svg=""
      data-testid={p.testId ?? 'retention-map'}
      data-layers={runs.length}
      viewBox={`0 0 ${width} ${height}`}
      width="100%"
      style={{ maxWidth: width, display: 'block', height: 'auto' }}
      role="img"
      aria-label={`kept prompt positions per layer (${p.promptTokens} tokens)`}
      fontFamily="Helvetica, Arial, sans-serif"
    >
      <rect x={left} y={0} width={pw} height={runs.length * rh} fill={CHART_THEME.grid} />
      {runs.map((rs, l) => (
        <g key={l} data-layer={l} data-kept-share={keptShare[l]?.toFixed(4)}>
          <title>{`layer ${l}: ${((keptShare[l] ?? 0) * 100).toFixed(1)} % of positions kept (averaged over heads)`}</title>
          {l % Math.max(1, Math.ceil(runs.length / 8)) === 0 ? (
            <text x={left - 3} y={l * rh + rh - 1} fontSize={Math.min(8, rh)} textAnchor="end" fill={CHART_THEME.text}>
              {l}
            </text>
          ) : null}
          {rs.map((r) => (
            <rect
              key={r.start}
              x={left + r.start * sx}
              y={l * rh}
              width={Math.max(0.5, (r.end - r.start) * sx)}
              height={rh - 1}
              fill="var(--kept, #2f6fde)"
              fillOpacity={0.25 + 0.75 * r.share}
            />
          ))}
        </g>
      ))}
      <g fill={CHART_THEME.text} fontSize={9}>
        <text x={left} y={height - 3}>
          0
        </text>
        <text x={width - 4} y={height - 3} textAnchor="end">
          {p.promptTokens} (prompt position →)
        </text>
      </g>
    </svg>
  );
}

export const RetentionMap = memo(RetentionMapImpl);
