/**
 * The engine's KV cache: per layer, sequence-major buffers [slots, Hkv, d]
 * that grow by appending (decoding never copies the cache), with per-head
 * bookkeeping of which original position each slot holds and whether it is
 * live.
 *
 * Layers may hold different numbers of slots (ZigZagKV, PyramidKV). KV heads
 * of one layer may hold different numbers of tokens (Ada-KV, decode-time
 * eviction): a head's dead or unused slots get an additive mask of −1e30 —
 * never zero keys, which would take real softmax mass (spec §6). `compact()`
 * squeezes dead slots out so memory follows what is held.
 *
 * Reported sizes: `entries`/`bytes` count live (layer, head, token) entries;
 * `slotBytes` is what the buffers fed to the graph occupy, padding included —
 * the honest figure when heads are ragged.
 */
import type { KeptIndices, KvModelShape } from '@kvlab/core';
import { kvBytesForEntries } from '@kvlab/core';
import { MASK_NEG } from './graph/decoder.ts';

interface LayerCache {
  keys: Float32Array;
  values: Float32Array;
  /** Slots in use (the past length fed to the graph). */
  slots: number;
  /** [Hkv · cap]: 1 where head h holds a token in slot s. */
  valid: Uint8Array;
  /** [Hkv · cap]: original position held by head h in slot s. */
  positions: Int32Array;
  /** Live tokens per head. */
  live: Int32Array;
  /** Capacity in slots. */
  cap: number;
}

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
  private readonly zeros: Float32Array[];
  generated = 0;

  private constructor(
    readonly shape: KvModelShape,
    readonly promptLength: number,
    layers: LayerCache[],
  ) {
    this.layers = layers;
    this.zeros = layers.map(() => new Float32Array(0));
  }

  private get row(): number {
    return this.shape.numKvHeads * this.shape.headDim;
  }

  get numLayers(): number {
    return this.layers.length;
  }

  /** A full cache from prefill K/V, given per layer as [n, Hkv, d] (sequence-major). */
  static full(shape: KvModelShape, keys: readonly Float32Array[], values: readonly Float32Array[], n: number): KvCache {
    const all = Int32Array.from({ length: n }, (_, i) => i);
    const kept: KeptIndices[] = keys.map(() => Array.from({ length: shape.numKvHeads }, () => all));
    return KvCache.fromKept(shape, keys, values, n, kept);
  }

  /** A cache holding, for layer l and KV head h, the prompt positions kept[l][h] (ascending). */
  static fromKept(shape: KvModelShape, keys: readonly Float32Array[], values: readonly Float32Array[], n: number, kept: readonly KeptIndices[]): KvCache {
    const { numKvHeads: H, headDim: d } = shape;
    const row = H * d;
    const layers = kept.map((heads, l): LayerCache => {
      const srcK = keys[l] ?? new Float32Array(0);
      const srcV = values[l] ?? new Float32Array(0);
      const live = Int32Array.from(heads, (p) => p.length);
      const slots = Math.max(0, ...live);
      const cap = slots + 64;
      const c: LayerCache = {
        keys: new Float32Array(cap * row),
        values: new Float32Array(cap * row),
        slots,
        valid: new Uint8Array(H * cap),
        positions: new Int32Array(H * cap),
        live,
        cap,
      };
      heads.forEach((pos, h) => {
        for (let i = 0; i < pos.length; i++) {
          const p = pos[i] ?? 0;
          c.keys.set(srcK.subarray(p * row + h * d, p * row + h * d + d), i * row + h * d);
          c.values.set(srcV.subarray(p * row + h * d, p * row + h * d + d), i * row + h * d);
          c.valid[h * cap + i] = 1;
          c.positions[h * cap + i] = p;
        }
      });
      return c;
    });
    return new KvCache(shape, n, layers);
  }

  /** Position of the next token: continues from the ORIGINAL prompt length (spec §6). */
  get nextPosition(): number {
    return this.promptLength + this.generated;
  }

  private layer(l: number): LayerCache {
    const c = this.layers[l];
    if (!c) throw new RangeError(`layer ${l} out of range`);
    return c;
  }

  /** Slots layer l feeds to the graph. */
  slots(l: number): number {
    return this.layer(l).slots;
  }

  /** Whether head h holds a token in slot s of layer l, and which position. */
  slotInfo(l: number, h: number, s: number): { valid: boolean; position: number } {
    const c = this.layer(l);
    return { valid: c.valid[h * c.cap + s] === 1, position: c.positions[h * c.cap + s] ?? -1 };
  }

  /** Feeds for layer l: past K/V [1, P, Hkv, d] and the additive mask [1, Hkv, 1, 1, P]. */
  feeds(l: number): { keys: Float32Array; values: Float32Array; mask: Float32Array; slots: number } {
    const c = this.layer(l);
    const P = c.slots;
    const H = this.shape.numKvHeads;
    let ragged = false;
    for (let h = 0; h < H && !ragged; h++) ragged = (c.live[h] ?? 0) !== P;
    let mask: Float32Array;
    if (!ragged) {
      let z = this.zeros[l] ?? new Float32Array(0);
      if (z.length < H * P) z = this.zeros[l] = new Float32Array(Math.max(H * P, 2 * z.length));
      mask = z.subarray(0, H * P);
    } else {
      mask = new Float32Array(H * P);
      for (let h = 0; h < H; h++) for (let s = 0; s < P; s++) if (c.valid[h * c.cap + s] !== 1) mask[h * P + s] = MASK_NEG;
    }
    return { keys: c.keys.subarray(0, P * this.row), values: c.values.subarray(0, P * this.row), mask, slots: P };
  }

  private grow(c: LayerCache, need: number): void {
    if (need <= c.cap) return;
    const cap = Math.max(need, 2 * c.cap);
    const H = this.shape.numKvHeads;
    const k = new Float32Array(cap * this.row);
    const v = new Float32Array(cap * this.row);
    k.set(c.keys.subarray(0, c.slots * this.row));
    v.set(c.values.subarray(0, c.slots * this.row));
    const valid = new Uint8Array(H * cap);
    const positions = new Int32Array(H * cap);
    for (let h = 0; h < H; h++) {
      valid.set(c.valid.subarray(h * c.cap, h * c.cap + c.slots), h * cap);
      positions.set(c.positions.subarray(h * c.cap, h * c.cap + c.slots), h * cap);
    }
    Object.assign(c, { keys: k, values: v, valid, positions, cap });
  }

  /** Appends S new tokens' K/V ([S, Hkv, d]) to every head of layer l; call for every layer, then `advance(S)`. */
  append(l: number, k: Float32Array, v: Float32Array, S: number): void {
    const c = this.layer(l);
    const row = this.row;
    this.grow(c, c.slots + S);
    c.keys.set(k.subarray(0, S * row), c.slots * row);
    c.values.set(v.subarray(0, S * row), c.slots * row);
    for (let h = 0; h < this.shape.numKvHeads; h++) {
      for (let s = 0; s < S; s++) {
        c.valid[h * c.cap + c.slots + s] = 1;
        c.positions[h * c.cap + c.slots + s] = this.nextPosition + s;
      }
      c.live[h] = (c.live[h] ?? 0) + S;
    }
    c.slots += S;
  }

  /** Marks S tokens as generated (after every layer appended them). */
  advance(S: number): void {
    this.generated += S;
  }

  /** Drops head h's token in slot s of layer l (decode-time eviction). Memory is reclaimed by `compact`. */
  evict(l: number, h: number, s: number): void {
    const c = this.layer(l);
    const i = h * c.cap + s;
    if (s >= c.slots || c.valid[i] !== 1) throw new RangeError(`layer ${l} head ${h} slot ${s} holds no token`);
    c.valid[i] = 0;
    c.live[h] = (c.live[h] ?? 0) - 1;
  }

  /**
   * Moves every head's live tokens to the front (keeping their order) so the
   * layer feeds max_h live_h slots. Returns, per head, the old slot of each new
   * slot (so callers can move per-slot statistics along).
   */
  compact(l: number): Int32Array[] {
    const c = this.layer(l);
    const { numKvHeads: H, headDim: d } = this.shape;
    const row = this.row;
    const moves: Int32Array[] = [];
    for (let h = 0; h < H; h++) {
      const from = new Int32Array(c.live[h] ?? 0);
      let w = 0;
      for (let s = 0; s < c.slots; s++) {
        if (c.valid[h * c.cap + s] !== 1) continue;
        from[w] = s;
        if (w !== s) {
          c.keys.copyWithin(w * row + h * d, s * row + h * d, s * row + h * d + d);
          c.values.copyWithin(w * row + h * d, s * row + h * d, s * row + h * d + d);
          c.positions[h * c.cap + w] = c.positions[h * c.cap + s] ?? 0;
        }
        c.valid[h * c.cap + w] = 1;
        w++;
      }
      for (let s = w; s < c.slots; s++) c.valid[h * c.cap + s] = 0;
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
    const out = new Float32Array(H * c.slots * d);
    for (let s = 0; s < c.slots; s++)
      for (let h = 0; h < H; h++) out.set(c.keys.subarray(s * this.row + h * d, s * this.row + h * d + d), (h * c.slots + s) * d);
    return out;
  }
}
