/**
 * The shape of a (possibly compressed) KV cache: which original prompt
 * positions each KV head of each layer holds.
 *
 * Lengths may differ per layer (ZigZagKV, PyramidKV, CAKE) and per KV head
 * (Ada-KV). Every entry keeps its ORIGINAL position: keys are cached after
 * RoPE, so kept keys are never re-rotated, and a token generated after
 * eviction gets position n + t, not cacheLength + t: the model saw the prompt
 * at its original positions, and renumbering would shift every relative
 * distance RoPE encodes.
 *
 * Layout: positions[l][h] is an ascending Int32Array of original positions
 * held by KV head h of layer l. Gathered K/V per head are [len, headDim]
 * row-major (HeadKv).
 */
import type { KvModelShape } from './budget.ts';
import { kvBytesForEntries } from './budget.ts';
import { ShapeError } from './errors.ts';
import type { KeptIndices } from './select.ts';
import type { Tensor } from './tensor.ts';
import { expectDims } from './tensor.ts';

export interface KvLayout {
  readonly shape: KvModelShape;
  /** Prompt length n: the position the first generated token gets. */
  readonly promptLength: number;
  /** Tokens generated (and appended to every head) since the prompt. */
  readonly generated: number;
  readonly positions: readonly KeptIndices[];
}

/** The uncompressed cache of an n-token prompt. */
export function fullLayout(shape: KvModelShape, n: number): KvLayout {
  const all = Int32Array.from({ length: n }, (_, i) => i);
  return {
    shape,
    promptLength: n,
    generated: 0,
    positions: Array.from({ length: shape.numLayers }, () => Array.from({ length: shape.numKvHeads }, () => all)),
  };
}

/** The layout after keeping `kept[l][h]` of an n-token prompt (validated). */
export function layoutFromKept(shape: KvModelShape, n: number, kept: readonly KeptIndices[]): KvLayout {
  if (kept.length !== shape.numLayers) throw new ShapeError('kept', `need ${shape.numLayers} layers, got ${kept.length}`);
  kept.forEach((layer, l) => {
    if (layer.length !== shape.numKvHeads) throw new ShapeError('kept', `layer ${l} needs ${shape.numKvHeads} KV heads, got ${layer.length}`);
    layer.forEach((pos, h) => {
      for (let i = 0; i < pos.length; i++) {
        const p = pos[i] ?? -1;
        if (p < 0 || p >= n || (i > 0 && p <= (pos[i - 1] ?? -1))) {
          throw new ShapeError('kept', `layer ${l} head ${h}: positions must be strictly ascending in [0, ${n}), got ${p} at ${i}`);
        }
      }
    });
  });
  return { shape, promptLength: n, generated: 0, positions: kept };
}

/** The layout after `count` more decoded tokens, which every head appends at positions n + t (no decode-time eviction unless a run asks for it). */
export function appendGenerated(layout: KvLayout, count: number): KvLayout {
  const start = layout.promptLength + layout.generated;
  const extra = Int32Array.from({ length: count }, (_, i) => start + i);
  const positions = layout.positions.map((layer) =>
    layer.map((p) => {
      const out = new Int32Array(p.length + count);
      out.set(p);
      out.set(extra, p.length);
      return out;
    }),
  );
  return { ...layout, generated: layout.generated + count, positions };
}

/** The position of the next token to feed: continues from the original prompt, never from the cache length. */
export function nextPosition(layout: KvLayout): number {
  return layout.promptLength + layout.generated;
}

export interface LayoutSize {
  /** Entries (token × KV head) per layer. */
  readonly perLayer: Int32Array;
  /** Tokens held per layer and KV head: perHead[l][h]. */
  readonly perHead: readonly Int32Array[];
  readonly entries: number;
  /** K+V bytes actually held. */
  readonly bytes: number;
  /** Bytes of the uncompressed cache at the same number of tokens. */
  readonly fullBytes: number;
}

export function layoutSize(layout: KvLayout): LayoutSize {
  const perHead = layout.positions.map((layer) => Int32Array.from(layer, (p) => p.length));
  const perLayer = Int32Array.from(perHead, (h) => h.reduce((a, b) => a + b, 0));
  const entries = perLayer.reduce((a, b) => a + b, 0);
  const s = layout.shape;
  const fullEntries = s.numLayers * s.numKvHeads * (layout.promptLength + layout.generated);
  return { perLayer, perHead, entries, bytes: kvBytesForEntries(s, entries), fullBytes: kvBytesForEntries(s, fullEntries) };
}

/** One KV head's kept cache: positions and the gathered rows [len, headDim]. */
export interface HeadKv {
  readonly positions: Int32Array;
  readonly keys: Float32Array;
  readonly values: Float32Array;
}

/** Gathers the kept rows of one layer's keys/values [Hkv, n, d] into per-head caches. */
export function gatherLayer(keys: Tensor<'float32'>, values: Tensor<'float32'>, kept: KeptIndices): HeadKv[] {
  expectDims('keys', keys, [-1, -1, -1]);
  const [Hkv = 0, n = 0, d = 0] = keys.dims;
  expectDims('values', values, [Hkv, n, d]);
  if (kept.length !== Hkv) throw new ShapeError('kept', `need ${Hkv} KV heads, got ${kept.length}`);
  return kept.map((pos, h) => {
    const k = new Float32Array(pos.length * d);
    const v = new Float32Array(pos.length * d);
    for (let i = 0; i < pos.length; i++) {
      const p = pos[i] ?? 0;
      if (p < 0 || p >= n) throw new ShapeError('kept', `head ${h} position ${p} outside [0, ${n})`);
      const src = (h * n + p) * d;
      k.set(keys.data.subarray(src, src + d), i * d);
      v.set(values.data.subarray(src, src + d), i * d);
    }
    return { positions: pos, keys: k, values: v };
  });
}
