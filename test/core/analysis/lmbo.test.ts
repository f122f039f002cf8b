import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { LmboInputs, LmboOptions } from '@kvlab/core';
import { ParamError, computeLmbo, createRng, f32, lmboPerLayer } from '@kvlab/core';
import { expectArraysClose, randomQkv } from '../fixtures.ts';

type Kind = 'cosine' | 'relL2';
type Gran = 'kvHead' | 'queryHead';

/**
 * Independent reference, written from the definition with plain loops (no
 * core attention code): float64 logits, causal softmax, window-summed ranking,
 * then each row's softmax recomputed from scratch over the kept visible tokens.
 */
function naiveSimilarity(l: LmboInputs, B: number, kind: Kind, gran: Gran, onlyKvHead?: number): number {
  const [Hq = 0, a = 0, d = 0] = l.queries.dims;
  const [Hkv = 0, n = 0] = l.keys.dims;
  const g = Hq / Hkv;
  const q = (h: number, i: number, t: number) => l.queries.data[(h * a + i) * d + t] ?? 0;
  const k = (kv: number, j: number, t: number) => l.keys.data[(kv * n + j) * d + t] ?? 0;
  const v = (kv: number, j: number, t: number) => l.values.data[(kv * n + j) * d + t] ?? 0;
  const logit = (h: number, i: number, j: number) => {
    let s = 0;
    for (let t = 0; t < d; t++) s += q(h, i, t) * k(Math.floor(h / g), j, t);
    return s / Math.sqrt(d);
  };
  // Attention output of (h, i) restricted to the tokens where keep(j) is true.
  const out = (h: number, i: number, keep: (j: number) => boolean): number[] => {
    const pos = n - a + i;
    let max = -Infinity;
    for (let j = 0; j <= pos; j++) if (keep(j)) max = Math.max(max, logit(h, i, j));
    const res = new Array<number>(d).fill(0);
    if (max === -Infinity) return res;
    let z = 0;
    for (let j = 0; j <= pos; j++) {
      if (!keep(j)) continue;
      const e = Math.exp(logit(h, i, j) - max);
      z += e;
      for (let t = 0; t < d; t++) res[t] = (res[t] ?? 0) + e * v(Math.floor(h / g), j, t);
    }
    return res.map((x) => x / z);
  };
  // Window-summed attention per query head.
  const sumRow = (h: number): number[] => {
    const s = new Array<number>(n).fill(0);
    for (let i = 0; i < a; i++) {
      const pos = n - a + i;
      const ls = Array.from({ length: pos + 1 }, (_, j) => logit(h, i, j));
      const m = Math.max(...ls);
      const z = ls.reduce((acc, x) => acc + Math.exp(x - m), 0);
      ls.forEach((x, j) => (s[j] = (s[j] ?? 0) + Math.exp(x - m) / z));
    }
    return s;
  };
  const keptFor = (h: number): Set<number> => {
    let s: number[];
    if (gran === 'queryHead') s = sumRow(h);
    else {
      const kv = Math.floor(h / g);
      s = new Array<number>(n).fill(0);
      for (let hh = kv * g; hh < (kv + 1) * g; hh++) sumRow(hh).forEach((x, j) => (s[j] = (s[j] ?? 0) + x / g));
    }
    const idx = Array.from({ length: n }, (_, j) => j).sort((x, y) => (s[y] ?? 0) - (s[x] ?? 0) || x - y);
    return new Set(idx.slice(0, B));
  };
  let oo = 0;
  let cross = 0;
  let ee = 0;
  let tt = 0;
  for (let h = 0; h < Hq; h++) {
    if (onlyKvHead !== undefined && Math.floor(h / g) !== onlyKvHead) continue;
    const kept = keptFor(h);
    for (let i = 0; i < a; i++) {
      const o = out(h, i, () => true);
      const ot = out(h, i, (j) => kept.has(j));
      for (let t = 0; t < d; t++) {
        const x = o[t] ?? 0;
        const y = ot[t] ?? 0;
        oo += x * x;
        tt += y * y;
        cross += x * y;
        ee += (x - y) ** 2;
      }
    }
  }
  if (kind === 'cosine') return tt === 0 ? 0 : cross / Math.sqrt(oo * tt);
  return 1 - Math.sqrt(ee / oo);
}

function naiveLmbo(l: LmboInputs, tau: number, kind: Kind, gran: Gran, onlyKvHead?: number): number {
  const n = l.keys.dims[1] ?? 0;
  for (let B = 1; B < n; B++) if (naiveSimilarity(l, B, kind, gran, onlyKvHead) >= tau) return B;
  return n;
}

/** Window queries [Hq, α, d] cut from a full random layer. */
function randomLayer(seed: number, n: number, Hq: number, Hkv: number, d: number, alpha: number, sharpness = 1): LmboInputs {
  const { queries, keys, values } = randomQkv(seed, n, Hq, Hkv, d, sharpness);
  const w = new Float32Array(Hq * alpha * d);
  for (let h = 0; h < Hq; h++) w.set(queries.data.subarray((h * n + n - alpha) * d, (h * n + n) * d), h * alpha * d);
  return { queries: f32([Hq, alpha, d], w), keys, values };
}

describe('computeLmbo', () => {
  for (const gran of ['kvHead', 'queryHead'] as const) {
    for (const kind of ['cosine', 'relL2'] as const) {
      it(`matches the naive reference (${gran}, ${kind})`, () => {
        const l = randomLayer(11, 40, 4, 2, 8, 4, 0.6);
        const grid = Array.from({ length: 40 }, (_, b) => b + 1);
        const res = computeLmbo(l, { granularity: gran, similarity: kind, grid, threshold: 0.9 });
        assert.deepEqual(
          res.curve.map((p) => p.budget),
          grid,
        );
        const ref = grid.map((B) => (B === 40 ? 1 : naiveSimilarity(l, B, kind, gran)));
        expectArraysClose(
          res.curve.map((p) => p.similarity),
          ref,
          1e-5,
          'curve',
        );
        assert.equal(res.lmbo, naiveLmbo(l, 0.9, kind, gran));
        for (let kv = 0; kv < 2; kv++) assert.equal(res.perHead[kv], naiveLmbo(l, 0.9, kind, gran, kv), `head ${kv}`);
      });
    }
  }

  it('keeping every token gives similarity 1 and lmbo ≤ n', () => {
    for (let seed = 0; seed < 5; seed++) {
      const n = 20 + seed * 7;
      const l = randomLayer(seed, n, 4, 1, 8, 3);
      for (const similarity of ['cosine', 'relL2'] as const) {
        const res = computeLmbo(l, { similarity, threshold: 1 });
        const last = res.curve[res.curve.length - 1];
        assert.equal(last?.budget, n);
        assert.equal(last?.similarity, 1);
        assert.ok(res.lmbo >= 1 && res.lmbo <= n);
        assert.ok(res.perHead.every((b) => b >= 1 && b <= n));
      }
    }
  });

  it('gives a layer with one dominant needle key a much smaller LMBO than a diffuse layer', () => {
    const n = 128;
    const Hq = 4;
    const Hkv = 2;
    const d = 16;
    const alpha = 4;
    const rng = createRng(5);
    const queries = f32(
      [Hq, alpha, d],
      new Float32Array(Hq * alpha * d).map(() => rng.normal()),
    );
    const values = f32(
      [Hkv, n, d],
      new Float32Array(Hkv * n * d).map(() => rng.normal()),
    );
    // Diffuse: tiny keys, so every logit is ≈ 0 and attention is ≈ uniform.
    const diffuse = f32(
      [Hkv, n, d],
      new Float32Array(Hkv * n * d).map(() => 0.01 * rng.normal()),
    );
    // Needle: the same keys plus, at position 17 of every KV head, a key aligned with the group's window queries.
    const needle = f32([Hkv, n, d], diffuse.data.slice());
    for (let kv = 0; kv < Hkv; kv++) {
      for (let t = 0; t < d; t++) {
        let m = 0;
        for (let h = kv * 2; h < kv * 2 + 2; h++) for (let i = 0; i < alpha; i++) m += queries.data[(h * alpha + i) * d + t] ?? 0;
        needle.data[(kv * n + 17) * d + t] = 20 * m;
      }
    }
    const lD = computeLmbo({ queries, keys: diffuse, values });
    const lN = computeLmbo({ queries, keys: needle, values });
    assert.ok(lN.lmbo <= 4, `needle LMBO ${lN.lmbo}`);
    assert.ok(lD.lmbo >= n / 2, `diffuse LMBO ${lD.lmbo}`);
    assert.ok(lN.lmbo * 10 < lD.lmbo);
  });

  it('gives a roughly monotone curve on random data', () => {
    for (let seed = 0; seed < 4; seed++) {
      const l = randomLayer(100 + seed, 96, 4, 2, 16, 8);
      const { curve } = computeLmbo(l, { grid: 12 });
      const sims = curve.map((p) => p.similarity);
      for (let i = 1; i < sims.length; i++)
        assert.ok((sims[i] ?? 0) >= (sims[i - 1] ?? 0) - 0.05, `seed ${seed}: drop at ${curve[i]?.budget}: ${sims.join(', ')}`);
      assert.ok((sims[sims.length - 1] ?? 0) > (sims[0] ?? 0));
      // The reported LMBO meets the threshold and no smaller budget does.
      const res = computeLmbo(l, { grid: Array.from({ length: 96 }, (_, b) => b + 1) });
      const ok = res.curve.filter((p) => p.similarity >= 0.95).map((p) => p.budget);
      assert.equal(res.lmbo, ok[0]);
    }
  });

  it('lmboPerLayer returns one LMBO per layer', () => {
    const layers = [0, 1, 2].map((s) => randomLayer(s, 32, 2, 1, 8, 4, s));
    const per = lmboPerLayer(layers, { threshold: 0.9 });
    assert.ok(per instanceof Float64Array);
    assert.deepEqual(
      [...per],
      layers.map((l) => computeLmbo(l, { threshold: 0.9 }).lmbo),
    );
  });

  it('rejects invalid options with a ParamError naming lmbo and the option', () => {
    const l = randomLayer(1, 16, 2, 1, 4, 2);
    const bad: [LmboOptions | Record<string, unknown>, string][] = [
      [{ threshold: 0 }, 'threshold'],
      [{ threshold: 1.5 }, 'threshold'],
      [{ threshold: Number.NaN }, 'threshold'],
      [{ similarity: 'l1' }, 'similarity'],
      [{ granularity: 'layer' }, 'granularity'],
      [{ grid: 1 }, 'grid'],
      [{ grid: 2.5 }, 'grid'],
      [{ grid: [] }, 'grid'],
      [{ grid: [0, 4] }, 'grid'],
      [{ grid: [4, 17] }, 'grid'],
      [{ tau: 0.9 }, 'tau'],
    ];
    for (const [opts, param] of bad) {
      assert.throws(
        () => computeLmbo(l, opts as LmboOptions),
        (e: unknown) => e instanceof ParamError && e.method === 'lmbo' && e.message.includes(param) && e.message.includes("'lmbo'"),
        JSON.stringify(opts),
      );
      assert.throws(() => lmboPerLayer([l], opts as LmboOptions), ParamError);
    }
  });
});
