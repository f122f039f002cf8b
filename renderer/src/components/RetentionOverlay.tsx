/**
 * The prompt's tokens, shaded by whether a compressed cache kept them: for one
 * layer and one KV head (kept / evicted), or for all heads of the layer
 * (opacity = share of heads that kept the token; "kept" counts a token any
 * head kept — the union, which is larger than one head's budget because heads
 * keep different tokens). The full cache keeps everything, so its `kept` is
 * empty and every token shows as kept.
 *
 * Byte tokens read as their characters (`<0x0A>` as a line break; util/tokens.ts).
 * When the prompt holds an inserted needle or passkey (`needle`, a token span),
 * its tokens are outlined, the legend says how many of them this layer/head
 * kept, and "Jump to needle" scrolls the token list to them.
 *
 * Long prompts: the first and last `edge` tokens are drawn (where sinks and
 * the observation window live), and the needle with some context around it,
 * with the rest elided, so four columns of a 32K-token prompt still render quickly.
 */
import { formatInt } from '@kvlab/core';
import { useMemo, useRef, type ReactNode } from 'react';
import { displayPieces } from '../util/tokens.ts';

export interface RetentionOverlayProps {
  readonly tokens: readonly string[];
  /** [layer][kvHead] → kept positions; empty = full cache. */
  readonly kept: readonly (readonly (readonly number[])[])[];
  readonly layer: number;
  readonly head: number | 'all';
  /** Tokens per KV head the allocator gave this layer (for the legend). */
  readonly layerBudget?: number | undefined;
  /** The needle's tokens [start, end), when the prompt holds an inserted needle or passkey. */
  readonly needle?: { readonly start: number; readonly end: number } | null | undefined;
  readonly edge?: number;
  readonly testId?: string;
}

/** Tokens drawn on each side of the needle when the prompt is long enough to be elided. */
const NEEDLE_CONTEXT = 40;

/** The [start, end) ranges drawn: everything, or the edges and the needle's neighbourhood, merged. */
export function visibleRanges(n: number, edge: number, needle?: { start: number; end: number } | null): [number, number][] {
  if (n <= 2 * edge) return [[0, n]];
  const ranges: [number, number][] = [
    [0, edge],
    [n - edge, n],
  ];
  if (needle) ranges.push([Math.max(0, needle.start - NEEDLE_CONTEXT), Math.min(n, needle.end + NEEDLE_CONTEXT)]);
  ranges.sort((a, b) => a[0] - b[0]);
  const merged: [number, number][] = [];
  for (const r of ranges) {
    const last = merged[merged.length - 1];
    if (last && r[0] <= last[1]) last[1] = Math.max(last[1], r[1]);
    else merged.push([r[0], r[1]]);
  }
  return merged;
}

export function RetentionOverlay({ tokens, kept, layer, head, layerBudget, needle, edge = 1500, testId }: RetentionOverlayProps) {
  const listRef = useRef<HTMLDivElement>(null);
  const shown = useMemo(() => displayPieces(tokens), [tokens]);
  const { share, keptCount } = useMemo(() => keptShare({ tokens: tokens.length, kept, layer, head }), [tokens, kept, layer, head]);
  const n = tokens.length;
  const span = needle && needle.start >= 0 && needle.end <= n && needle.start < needle.end ? needle : null;
  let needleKept = 0;
  if (span) for (let i = span.start; i < span.end; i++) if ((share[i] ?? 0) > 0) needleKept++;
  const { legend, why } = legendText({ n, keptCount, heads: kept[layer]?.length ?? 0, compressed: kept.length > 0, head, layerBudget });
  return (
    <div className="retention" data-testid={testId} data-kept-count={keptCount} data-token-count={n}>
      <div className="retention-legend row gap wrap">
        <span title={why} data-testid="retention-legend">
          {legend}
          {why ? ' (union over heads)' : ''}
        </span>
        {span ? (
          <>
            <span data-testid="retention-needle-kept" data-value={needleKept} data-total={span.end - span.start}>
              needle: {needleKept} / {span.end - span.start} tokens kept
            </span>
            <button type="button" className="link" onClick={() => jumpToNeedle(listRef.current)} data-testid="retention-jump-needle">
              Jump to needle
            </button>
          </>
        ) : null}
      </div>
      <div className="retention-tokens" ref={listRef}>
        {tokenSpans({ tokens, shown, share, span, ranges: visibleRanges(n, edge, span) })}
      </div>
    </div>
  );
}

/**
 * Per prompt position, the share of the chosen heads that kept it (1 for the full cache, whose `kept` is
 * empty), and how many positions some head kept.
 */
function keptShare(o: { tokens: number; kept: RetentionOverlayProps['kept']; layer: number; head: number | 'all' }): {
  share: Float32Array;
  keptCount: number;
} {
  const layerHeads = o.kept[o.layer] ?? [];
  const share = new Float32Array(o.tokens);
  if (o.kept.length === 0) share.fill(1);
  else {
    const one = o.head === 'all' ? undefined : layerHeads[o.head];
    const chosen = o.head === 'all' ? layerHeads : one ? [one] : [];
    for (const positions of chosen) for (const p of positions) if (p >= 0 && p < share.length) share[p] = (share[p] ?? 0) + 1 / chosen.length;
  }
  let keptCount = 0;
  for (const s of share) if (s > 0) keptCount++;
  return { share, keptCount };
}

/** The drawn ranges' tokens, shaded by their share, the needle's outlined, with "… n tokens …" for every elided stretch. */
function tokenSpans(o: {
  tokens: readonly string[];
  shown: readonly string[];
  share: Float32Array;
  span: { readonly start: number; readonly end: number } | null;
  ranges: readonly [number, number][];
}): ReactNode[] {
  const { tokens, share, span } = o;
  const n = tokens.length;
  const spans: ReactNode[] = [];
  let drawnTo = 0;
  for (const [from, to] of o.ranges) {
    if (from > drawnTo)
      spans.push(
        <span key={`gap-${from}`} className="tok-gap">
          {' '}
          … {formatInt(from - drawnTo)} tokens …{' '}
        </span>,
      );
    for (let i = from; i < to; i++) {
      const s = share[i] ?? 0;
      const inNeedle = span !== null && i >= span.start && i < span.end;
      spans.push(
        <span
          key={i}
          className={`tok ${s > 0 ? 'tok-kept' : 'tok-evicted'}${inNeedle ? ' tok-needle' : ''}`}
          data-kept={s > 0 ? '1' : '0'}
          {...(inNeedle ? { 'data-needle': '1' } : {})}
          style={s > 0 && s < 1 ? { opacity: 0.35 + 0.65 * s } : undefined}
          title={`#${i} ${JSON.stringify(tokens[i] ?? '')}`}
        >
          {o.shown[i]}
        </span>,
      );
    }
    drawnTo = to;
  }
  if (drawnTo < n)
    spans.push(
      <span key="gap-end" className="tok-gap">
        {' '}
        … {formatInt(n - drawnTo)} tokens …
      </span>,
    );
  return spans;
}

/** Scrolls the token list to the needle's first token and flashes the list. */
function jumpToNeedle(list: HTMLDivElement | null): void {
  const first = list?.querySelector<HTMLElement>('[data-needle="1"]');
  if (!list || !first) return;
  // Only the token list scrolls (it is the offset parent of its tokens), not the page around it.
  list.scrollTop = Math.max(0, first.offsetTop - list.clientHeight / 3);
  list.classList.remove('flash-needle');
  void list.offsetWidth; // restart the highlight animation on a second click
  list.classList.add('flash-needle');
}

/** The legend's line, and for all heads of a compressed cache why the union exceeds one head's budget (its tooltip). */
function legendText(o: { n: number; keptCount: number; heads: number; compressed: boolean; head: number | 'all'; layerBudget: number | undefined }): {
  legend: string;
  why: string | undefined;
} {
  const { n, keptCount, head, layerBudget } = o;
  const legend = !o.compressed
    ? `full cache: all ${formatInt(n)} prompt tokens kept`
    : head === 'all'
      ? `kept by any of the ${o.heads} KV heads: ${formatInt(keptCount)} / ${formatInt(n)} tokens`
      : `KV head ${head} kept ${formatInt(keptCount)} / ${formatInt(n)} tokens`;
  const why =
    o.compressed && head === 'all'
      ? `Each KV head keeps its own tokens${layerBudget !== undefined ? `, at most ${formatInt(layerBudget)} in this layer (its budget per head)` : ''}. Heads keep different tokens, so the count of tokens at least one head kept (the union) is larger than one head's budget. Shade = share of the heads that kept a token; pick one head to see exactly what it kept.`
      : undefined;
  return { legend, why };
}
