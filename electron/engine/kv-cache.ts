/**
 * The engine's KV cache: per layer, head-major keys and values [Hkv, cap, d]
 * with capacity, fed to the graph as they lie (the graph never transposes or
 * concatenates the past: graph/decoder.ts), with per-head bookkeeping of which
 * original position each slot holds and whether it is live.
 *
 * Layers may hold different numbers of slots (ZigZagKV, PyramidKV). KV heads
 * of one layer may hold different numbers of tokens (Ada-KV, decode-time
 * eviction). Every slot that holds nothing — a dead slot of a ragged head, or
 * capacity not yet used — carries an additive mask of −1e30 in the layer's
 * mask, kept up to date as tokens are appended and evicted; never zero keys,
 * which would take real softmax mass. `compact()` squeezes dead slots out.
 *
 * Capacity: the graph attends over all `cap` slots (the unused ones are
 * masked), so capacity is reserved for the tokens a run will generate (the
 * `reserve` of `full`/`fromKept`/`adoptFull`) and otherwise grows by 1/16 at a time:
 * at most ~6 % of a step is spent on masked slots, and a growth copies the
 * layer once per cap/16 steps.
 *
 * Reported sizes: `entries`/`bytes` count live (layer, head, token) entries;
 * `slotBytes` counts the slots in use, padding of ragged heads included — the
 * honest figure when heads are ragged (reserved capacity is not counted: it
 * is how the buffer grows, not what the cache holds).
 */
import type { KeptIndices, KvModelShape } from '@kvlab/core';
import { kvBytesForEntries, tensor, toFloat32 } from '@kvlab/core';
import { MASK_NEG } from './graph/decoder.ts';

/** A cache buffer: float32, or float16 as raw bits (the shape's dtype). */
export type KvArray = Float32Array | Uint16Array;

/** A zeroed cache buffer of `n` elements of the cache type. */
export function kvArray(type: 'f32' | 'f16' | KvModelShape['dtype'], n: number): KvArray {
  return type === 'f16' || type === 'float16' ? new Uint16Array(n) : new Float32Array(n);
}

interface LayerCache {
  /** [Hkv, cap, d] */
  keys: KvArray;
  values: KvArray;
  /** [Hkv, cap]: 0 where head h holds a token in slot s, −1e30 elsewhere (the graph's past mask). */
  mask: Float32Array;
  /** Slots in use: every head's live tokens lie below it. */
  slots: number;
  /** [Hkv · cap]: 1 where head h holds a token in slot s. */
  valid: Uint8Array;
  /** [Hkv · cap]: original position held by head h in slot s. */
  positions: Int32Array;
  /** Live tokens per head. */
  live: Int32Array;
  /** Capacity in slots. */
  cap: number;
  /** Slots the layer's next growth adds: an adopted layer's reserve (KvCache.adoptFull); 0 for 1/16 of what it needs, at least 64. */
  reserve: number;
}

/** Slots a layer reserves beyond what it holds when no reserve is given. */
const DEFAULT_RESERVE = 64;

export interface CacheSize {
  /** Live tokens per layer and KV head: perHead[l][h]. */
  readonly perHead: Int32Array[];
  readonly entries: number;
  /** K+V bytes of the live entries. */
  readonly bytes: number;
  /** K+V bytes of the slots fed to the graph (live + padding of ragged heads). */
  readonly slotBytes: number;
  /** What the uncompressed cache would hold for the same tokens. */
  readonly fullBytes: number;
}

export class KvCache {
  private readonly layers: LayerCache[];
  generated = 0;

  private constructor(
    readonly shape: KvModelShape,
    readonly promptLength: number,
    layers: LayerCache[],
    /** A view of arrays it does not own (KvCache.view): nothing may be appended, evicted or compacted. */
    private readonly frozen = false,
  ) {
    this.layers = layers;
  }

  get numLayers(): number {
    return this.layers.length;
  }

  /** A full cache from prefill K/V, per layer head-major [Hkv, n, d]; `reserve` slots for generated tokens. */
  static full(shape: KvModelShape, keys: readonly KvArray[], values: readonly KvArray[], n: number, reserve = DEFAULT_RESERVE): KvCache {
    const all = Int32Array.from({ length: n }, (_, i) => i);
    const kept: KeptIndices[] = keys.map(() => Array.from({ length: shape.numKvHeads }, () => all));
    return KvCache.fromKept(shape, keys, values, n, kept, reserve);
  }

  /**
   * A full cache that takes over prefill K/V (per layer head-major [Hkv, n, d]) instead of copying
   * them: for the last cache built from a prefill, so the prompt's K/V are not held twice while it
   * lives. The cache owns the arrays from then on and may write into them (eviction, compaction); the
   * caller must not use them again. They have no spare capacity, so the first append grows each layer
   * once, to `reserve` slots beyond what it holds, and the adopted array becomes garbage.
   */
  static adoptFull(shape: KvModelShape, keys: readonly KvArray[], values: readonly KvArray[], n: number, reserve = DEFAULT_RESERVE): KvCache {
    return KvCache.over(shape, keys, values, n, reserve, false);
  }

  /**
   * A full cache that reads prefill K/V (per layer head-major [Hkv, n, d]) where they lie, for steps
   * that add nothing to it (StepOptions.commit false): it neither copies nor changes them, so the
   * prefill can still serve other caches. Appending, evicting or compacting throws.
   */
  static view(shape: KvModelShape, keys: readonly KvArray[], values: readonly KvArray[], n: number): KvCache {
    return KvCache.over(shape, keys, values, n, 0, true);
  }

  // eslint-disable-next-line max-params -- adoptFull's and view's arguments, and which of the two
  private static over(shape: KvModelShape, keys: readonly KvArray[], values: readonly KvArray[], n: number, reserve: number, frozen: boolean): KvCache {
    const { numKvHeads: H, headDim: d } = shape;
    const layers = keys.map((k, l): LayerCache => {
      const v = values[l];
      if (!v || k.length !== H * n * d || v.length !== H * n * d) throw new RangeError(`layer ${l}: the K/V arrays do not hold exactly ${n} tokens`);
      if (k instanceof Uint16Array !== (shape.dtype === 'float16')) throw new TypeError(`K/V arrays do not match the cache's ${shape.dtype}`);
      const positions = new Int32Array(H * n);
      for (let h = 0; h < H; h++) for (let i = 0; i < n; i++) positions[h * n + i] = i;
      return {
        keys: k,
        values: v,
        mask: new Float32Array(H * n),
        slots: n,
        valid: new Uint8Array(H * n).fill(1),
        positions,
        live: new Int32Array(H).fill(n),
        cap: n,
        reserve,
      };
    });
    return new KvCache(shape, n, layers, frozen);
  }

  /**
   * A cache holding, for layer l and KV head h, the prompt positions kept[l][h]
   * (ascending), from prefill K/V given per layer head-major as [Hkv, m, d]
   * (m ≤ n: usually the whole prompt);
   * `reserve` slots of capacity for the tokens to be generated.
   */
  // eslint-disable-next-line max-params -- a prefill's K, V and length as the engine, its generator and the tests hold them; one call per compressed run, so an options object buys nothing
  static fromKept(
    shape: KvModelShape,
    keys: readonly KvArray[],
    values: readonly KvArray[],
    n: number,
    kept: readonly KeptIndices[],
    reserve = DEFAULT_RESERVE,
  ): KvCache {
    const { headDim: d } = shape;
    if (keys[0] instanceof Uint16Array !== (shape.dtype === 'float16')) throw new TypeError(`K/V arrays do not match the cache's ${shape.dtype}`);
    const layers = kept.map((heads, l): LayerCache => {
      const srcK = keys[l] ?? new Float32Array(0);
      const srcV = values[l] ?? new Float32Array(0);
      // Tokens in the source arrays: n for a prefill, but a cache may stand for a longer prompt (n) of which
      // only the first tokens were computed.
      const m = srcK.length / (shape.numKvHeads * d);
      const live = Int32Array.from(heads, (p) => p.length);
      const slots = Math.max(0, ...live);
      const c = emptyLayer(shape, slots + Math.max(1, reserve));
      c.slots = slots;
      c.live = live;
      heads.forEach((pos, h) => {
        const base = h * c.cap;
        const all = pos.length === m && pos[m - 1] === m - 1;
        if (all) {
          // Every source token kept (a full cache): one copy per head.
          c.keys.set(srcK.subarray(h * m * d, (h + 1) * m * d), base * d);
          c.values.set(srcV.subarray(h * m * d, (h + 1) * m * d), base * d);
        }
        for (let i = 0; i < pos.length; i++) {
          const p = pos[i] ?? 0;
          if (!all) {
            c.keys.set(srcK.subarray((h * m + p) * d, (h * m + p + 1) * d), (base + i) * d);
            c.values.set(srcV.subarray((h * m + p) * d, (h * m + p + 1) * d), (base + i) * d);
          }
          c.valid[base + i] = 1;
          c.mask[base + i] = 0;
          c.positions[base + i] = p;
        }
      });
      return c;
    });
    return new KvCache(shape, n, layers);
  }

  /** Position of the next token: continues from the ORIGINAL prompt length, so RoPE positions stay those of the uncompressed sequence. */
  get nextPosition(): number {
    return this.promptLength + this.generated;
  }

  /** Throws when the cache is a view (KvCache.view): every change goes through here. */
  private refuseIfView(): void {
    if (this.frozen) throw new TypeError('this cache is a view of a prefill (KvCache.view): steps over it must not commit (StepOptions.commit false)');
  }

  /** Layer l, to be changed. */
  private writable(l: number): LayerCache {
    this.refuseIfView();
    return this.layer(l);
  }

  private layer(l: number): LayerCache {
    const c = this.layers[l];
    if (!c) throw new RangeError(`layer ${l} out of range`);
    return c;
  }

  /** Slots in use in layer l (its live tokens lie below). */
  slots(l: number): number {
    return this.layer(l).slots;
  }

  /** Whether head h holds a token in slot s of layer l, and which position. */
  slotInfo(l: number, h: number, s: number): { valid: boolean; position: number } {
    const c = this.layer(l);
    return { valid: c.valid[h * c.cap + s] === 1, position: c.positions[h * c.cap + s] ?? -1 };
  }

  /**
   * Feeds for layer l, as they lie: K/V [1, Hkv, 1, cap, d] and the additive
   * mask [1, Hkv, 1, 1, cap]; `slots` is the capacity fed (the graph's P_l).
   */
  feeds(l: number): { keys: KvArray; values: KvArray; mask: Float32Array; slots: number } {
    const c = this.layer(l);
    return { keys: c.keys, values: c.values, mask: c.mask, slots: c.cap };
  }

  private grow(c: LayerCache, need: number): void {
    if (need <= c.cap) return;
    const { numKvHeads: H, headDim: d } = this.shape;
    // An adopted layer's first growth adds its reserve (the tokens its run will generate); otherwise 1/16.
    const n = emptyLayer(this.shape, need + (c.reserve > 0 ? c.reserve : Math.max(DEFAULT_RESERVE, need >> 4)));
    c.reserve = 0;
    for (let h = 0; h < H; h++) {
      n.keys.set(c.keys.subarray(h * c.cap * d, (h * c.cap + c.slots) * d), h * n.cap * d);
      n.values.set(c.values.subarray(h * c.cap * d, (h * c.cap + c.slots) * d), h * n.cap * d);
      n.mask.set(c.mask.subarray(h * c.cap, h * c.cap + c.slots), h * n.cap);
      n.valid.set(c.valid.subarray(h * c.cap, h * c.cap + c.slots), h * n.cap);
      n.positions.set(c.positions.subarray(h * c.cap, h * c.cap + c.slots), h * n.cap);
    }
    Object.assign(c, { keys: n.keys, values: n.values, mask: n.mask, valid: n.valid, positions: n.positions, cap: n.cap });
  }

  /** Appends S new tokens' K/V (as the graph returns them, sequence-major [S, Hkv, d]) to every head of layer l; call for every layer, then `advance(S)`. */
  append(l: number, k: KvArray, v: KvArray, S: number): void {
    const c = this.writable(l);
    const { numKvHeads: H, headDim: d } = this.shape;
    this.grow(c, c.slots + S);
    for (let h = 0; h < H; h++) {
      for (let s = 0; s < S; s++) {
        const slot = h * c.cap + c.slots + s;
        c.keys.set(k.subarray((s * H + h) * d, (s * H + h + 1) * d), slot * d);
        c.values.set(v.subarray((s * H + h) * d, (s * H + h + 1) * d), slot * d);
        c.valid[slot] = 1;
        c.mask[slot] = 0;
        c.positions[slot] = this.nextPosition + s;
      }
      c.live[h] = (c.live[h] ?? 0) + S;
    }
    c.slots += S;
  }

  /** Marks S tokens as generated (after every layer appended them). */
  advance(S: number): void {
    this.refuseIfView();
    this.generated += S;
  }

  /** Drops head h's token in slot s of layer l (decode-time eviction). Memory is reclaimed by `compact`. */
  evict(l: number, h: number, s: number): void {
    const c = this.writable(l);
    const i = h * c.cap + s;
    if (s >= c.slots || c.valid[i] !== 1) throw new RangeError(`layer ${l} head ${h} slot ${s} holds no token`);
    c.valid[i] = 0;
    c.mask[i] = MASK_NEG;
    c.live[h] = (c.live[h] ?? 0) - 1;
  }

  /**
   * Moves every head's live tokens to the front (keeping their order) so the
   * layer uses max_h live_h slots. Returns, per head, the old slot of each new
   * slot (so callers can move per-slot statistics along).
   */
  compact(l: number): Int32Array[] {
    const c = this.writable(l);
    const { numKvHeads: H, headDim: d } = this.shape;
    const moves: Int32Array[] = [];
    for (let h = 0; h < H; h++) {
      const base = h * c.cap;
      const from = new Int32Array(c.live[h] ?? 0);
      let w = 0;
      for (let s = 0; s < c.slots; s++) {
        if (c.valid[base + s] !== 1) continue;
        from[w] = s;
        if (w !== s) {
          c.keys.copyWithin((base + w) * d, (base + s) * d, (base + s + 1) * d);
          c.values.copyWithin((base + w) * d, (base + s) * d, (base + s + 1) * d);
          c.positions[base + w] = c.positions[base + s] ?? 0;
        }
        c.valid[base + w] = 1;
        c.mask[base + w] = 0;
        w++;
      }
      c.valid.fill(0, base + w, base + c.slots);
      c.mask.fill(MASK_NEG, base + w, base + c.slots);
      moves.push(from);
    }
    c.slots = Math.max(0, ...c.live);
    return moves;
  }

  /** Entries and bytes actually held, per layer and KV head. */
  size(): CacheSize {
    const perHead = this.layers.map((c) => Int32Array.from(c.live));
    const entries = perHead.reduce((a, h) => a + h.reduce((x, y) => x + y, 0), 0);
    const slotEntries = this.layers.reduce((a, c) => a + c.slots * this.shape.numKvHeads, 0);
    const fullEntries = this.layers.length * this.shape.numKvHeads * (this.promptLength + this.generated);
    return {
      perHead,
      entries,
      bytes: kvBytesForEntries(this.shape, entries),
      slotBytes: kvBytesForEntries(this.shape, slotEntries),
      fullBytes: kvBytesForEntries(this.shape, fullEntries),
    };
  }

  /** The original positions held by layer l, head h, in slot order (ascending). */
  positionsOf(l: number, h: number): Int32Array {
    const c = this.layer(l);
    const out: number[] = [];
    for (let s = 0; s < c.slots; s++) if (c.valid[h * c.cap + s] === 1) out.push(c.positions[h * c.cap + s] ?? 0);
    return Int32Array.from(out);
  }

  /** Layer l's keys as [Hkv, slots, d] head-major (for decode-time scorers such as Knorm). */
  keysHeadMajor(l: number): Float32Array {
    const c = this.layer(l);
    const { numKvHeads: H, headDim: d } = this.shape;
    const out = kvArray(this.shape.dtype, H * c.slots * d);
    for (let h = 0; h < H; h++) out.set(c.keys.subarray(h * c.cap * d, (h * c.cap + c.slots) * d), h * c.slots * d);
    return out instanceof Float32Array ? out : toFloat32(tensor('float16', [out.length], out)).data;
  }
}

/** A layer with `cap` empty slots: every slot masked. */
function emptyLayer(shape: KvModelShape, cap: number): LayerCache {
  const { numKvHeads: H, headDim: d } = shape;
  return {
    keys: kvArray(shape.dtype, H * cap * d),
    values: kvArray(shape.dtype, H * cap * d),
    mask: new Float32Array(H * cap).fill(MASK_NEG),
    slots: 0,
    valid: new Uint8Array(H * cap),
    positions: new Int32Array(H * cap),
    live: new Int32Array(H),
    cap,
    reserve: 0,
  };
}
