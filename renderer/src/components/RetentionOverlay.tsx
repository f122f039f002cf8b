/**
 * The prompt's tokens, shaded by whether a compressed cache kept them: for one
 * layer and one KV head (kept / evicted), or for all heads of the layer
 * (opacity = share of heads that kept the token). The full cache keeps
 * everything, so its `kept` is empty and every token shows as kept.
 *
 * Long prompts: the first and last `edge` tokens are drawn (where sinks and
 * the observation window live) with the middle elided, so four columns of a
 * 32K-token prompt still render quickly.
 */
import { useMemo } from 'react';

export interface RetentionOverlayProps {
  readonly tokens: readonly string[];
  /** [layer][kvHead] → kept positions; empty = full cache. */
  readonly kept: readonly (readonly (readonly number[])[])[];
  readonly layer: number;
  readonly head: number | 'all';
  readonly edge?: number;
  readonly testId?: string;
}

export function RetentionOverlay({ tokens, kept, layer, head, edge = 1500, testId }: RetentionOverlayProps) {
  const { share, keptCount } = useMemo(() => {
    const heads = kept[layer] ?? [];
    const share = new Float32Array(tokens.length);
    if (kept.length === 0) share.fill(1);
    else {
      const chosen = head === 'all' ? heads : heads[head] ? [heads[head]] : [];
      for (const positions of chosen) for (const p of positions) if (p >= 0 && p < share.length) share[p] = (share[p] ?? 0) + 1 / chosen.length;
    }
    let keptCount = 0;
    for (const s of share) if (s > 0) keptCount++;
    return { share, keptCount };
  }, [tokens, kept, layer, head]);

  const spans = [];
  const n = tokens.length;
  const elide = n > 2 * edge;
  for (let i = 0; i < n; i++) {
    if (elide && i === edge) {
      spans.push(
        <span key="gap" className="tok-gap">
          {' '}
          … {n - 2 * edge} tokens …{' '}
        </span>,
      );
      i = n - edge - 1;
      continue;
    }
    const s = share[i] ?? 0;
    spans.push(
      <span
        key={i}
        className={s > 0 ? 'tok tok-kept' : 'tok tok-evicted'}
        data-kept={s > 0 ? '1' : '0'}
        style={s > 0 && s < 1 ? { opacity: 0.35 + 0.65 * s } : undefined}
        title={`#${i}`}
      >
        {tokens[i]}
      </span>,
    );
  }
  return (
    <div className="retention" data-testid={testId} data-kept-count={keptCount} data-token-count={n}>
      <div className="retention-legend">
        kept {keptCount} / {n} tokens
      </div>
      <div className="retention-tokens">{spans}</div>
    </div>
  );
}
