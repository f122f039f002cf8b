/**
 * Decode-time eviction: keeps every KV head at its post-prefill budget while
 * generating, for the scorers that can score during decoding (H2O's
 * accumulated attention, StreamingLLM's recency, TOVA's current attention,
 * Knorm, Random — `decodeTime: true` in core's registry).
 *
 * After each decode step, every head holding more tokens than its budget
 * drops its lowest-scoring unprotected token (ties: the oldest). Scores come
 * from the scorer's own `score()`, run over the cache's slots as the token
 * axis, so no method is re-implemented here. The protected sinks are the
 * head's first live slots and the protected window its last live slots, which
 * are the oldest and newest tokens because slots stay in position order.
 *
 * H2O's accumulated attention is carried per slot: initialised from the
 * prefill's accumulated attention at the kept positions, increased by each
 * step's attention row, and moved along when the cache compacts.
 */
import type { CompressionPlan, LayerObservation, ScorerDef } from '@kvlab/core';
import { f32, getScorer } from '@kvlab/core';
import type { PrefillResult } from './inference-engine.ts';
import type { KvCache } from './kv-cache.ts';

export class DecodeEvictor {
  private readonly scorer: ScorerDef<string, unknown>;
  private readonly params: unknown;
  private readonly needs: Set<string>;
  /** Per layer [Hq, cap] accumulated attention per slot (H2O). */
  private readonly acc: Float32Array[] = [];
  private readonly accCap: number[] = [];
  readonly Hq: number;
  readonly g: number;
  evictions = 0;

  constructor(
    private readonly cache: KvCache,
    private readonly plan: CompressionPlan,
    prefill: PrefillResult,
    numQueryHeads: number,
  ) {
    this.scorer = getScorer(plan.config.scorer.id);
    if (!this.scorer.decodeTime)
      throw new RangeError(`'${this.scorer.id}' cannot score during decoding; decode-time eviction needs one of the decode-time scorers`);
    this.params = plan.config.scorer.params;
    this.needs = new Set(this.scorer.needs(this.params).map((x) => x.input));
    if (this.needs.has('window') || this.needs.has('windowVariance'))
      throw new RangeError(`'${this.scorer.id}' needs window statistics, which decoding does not produce`);
    this.Hq = numQueryHeads;
    this.g = numQueryHeads / cache.shape.numKvHeads;
    if (this.needs.has('accumulated')) {
      for (let l = 0; l < cache.numLayers; l++) {
        const P = cache.slots(l);
        const cap = P + 64;
        const a = new Float32Array(this.Hq * cap);
        const src = prefill.observations[l]?.accumulated?.data;
        if (!src) throw new RangeError(`'${this.scorer.id}' needs the prefill's accumulated attention`);
        for (let h = 0; h < this.Hq; h++) {
          const kv = Math.floor(h / this.g);
          for (let s = 0; s < P; s++) {
            const info = cache.slotInfo(l, kv, s);
            if (info.valid) a[h * cap + s] = src[h * prefill.n + info.position] ?? 0;
          }
        }
        this.acc.push(a);
        this.accCap.push(cap);
      }
    }
  }

  /** Whether steps must return attention rows (H2O, TOVA). */
  get wantsAttention(): boolean {
    return this.needs.has('accumulated') || this.needs.has('lastQuery');
  }

  /** Call after each `engine.step` (with its attention rows when `wantsAttention`). */
  afterStep(attention?: readonly Float32Array[]): void {
    const H = this.cache.shape.numKvHeads;
    for (let l = 0; l < this.cache.numLayers; l++) {
      const P = this.cache.slots(l);
      const att = attention?.[l];
      if (this.needs.has('accumulated') && att) this.addAttention(l, att, P);
      const budgets = this.plan.headBudgets[l];
      const over: number[] = [];
      const live = this.cache.size().perHead[l] ?? new Int32Array(0);
      for (let h = 0; h < H; h++) if ((live[h] ?? 0) > (budgets?.[h] ?? Infinity)) over.push(h);
      if (over.length === 0) continue;
      const scores = this.scorer.score(this.observation(l, P, att), this.params).data;
      const prot = this.scorer.protect(this.params);
      for (const h of over) {
        const validSlots: number[] = [];
        for (let s = 0; s < P; s++) if (this.cache.slotInfo(l, h, s).valid) validSlots.push(s);
        const candidates = validSlots.slice(Math.min(prot.sinks, validSlots.length), Math.max(0, validSlots.length - prot.window));
        let worst = -1;
        for (const s of candidates) if (worst < 0 || (scores[h * P + s] ?? 0) < (scores[h * P + worst] ?? 0)) worst = s;
        if (worst >= 0) {
          this.cache.evict(l, h, worst);
          this.evictions++;
        }
      }
      const maxLive = Math.max(...(this.cache.size().perHead[l] ?? [0]));
      if (P - maxLive >= 16) this.compact(l);
    }
  }

  private addAttention(l: number, att: Float32Array, P: number): void {
    let cap = this.accCap[l] ?? 0;
    let a = this.acc[l] ?? new Float32Array(0);
    if (P > cap) {
      const ncap = Math.max(P, 2 * cap);
      const b = new Float32Array(this.Hq * ncap);
      for (let h = 0; h < this.Hq; h++) b.set(a.subarray(h * cap, h * cap + cap), h * ncap);
      a = b;
      cap = ncap;
      this.acc[l] = a;
      this.accCap[l] = cap;
    }
    for (let h = 0; h < this.Hq; h++) for (let s = 0; s < P; s++) a[h * cap + s] = (a[h * cap + s] ?? 0) + (att[h * P + s] ?? 0);
  }

  private compact(l: number): void {
    const moves = this.cache.compact(l);
    const a = this.acc[l];
    if (!a) return;
    const cap = this.accCap[l] ?? 0;
    for (let h = 0; h < this.Hq; h++) {
      const from = moves[Math.floor(h / this.g)] ?? new Int32Array(0);
      for (let w = 0; w < from.length; w++) a[h * cap + w] = a[h * cap + (from[w] ?? 0)] ?? 0;
      a.fill(0, h * cap + from.length, h * cap + cap);
    }
  }

  /** The layer's cache as an observation whose token axis is the slots. */
  private observation(l: number, P: number, att?: Float32Array): LayerObservation {
    const { numKvHeads: H, headDim: d } = this.cache.shape;
    const acc = this.acc[l];
    const cap = this.accCap[l] ?? 0;
    let accumulated;
    if (acc) {
      const rows = new Float32Array(this.Hq * P);
      for (let h = 0; h < this.Hq; h++) rows.set(acc.subarray(h * cap, h * cap + P), h * P);
      accumulated = f32([this.Hq, P], rows);
    }
    return {
      layer: l,
      seqLen: P,
      numQueryHeads: this.Hq,
      numKvHeads: H,
      headDim: d,
      windows: [],
      ...(att ? { lastQuery: f32([this.Hq, P], att.subarray(0, this.Hq * P)) } : {}),
      ...(accumulated ? { accumulated } : {}),
      ...(this.needs.has('keys') ? { keys: f32([H, P, d], this.cache.keysHeadMajor(l)) } : {}),
    };
  }
}
