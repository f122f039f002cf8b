/**
 * The cache's layout against a plain model of it: per layer and KV head, the
 * list of (position, key, value) it holds. Random appends, evictions,
 * compactions and capacity growth; after each, the buffers fed to the graph
 * must hold exactly those entries in slot order, with a zero mask on them and
 * −1e30 on every other slot (unused capacity included).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { appendHeadMajor, autoPrefillChunk, PREFILL_ATTENTION_BYTES } from '../../electron/engine/engine.ts';
import { MASK_NEG } from '../../electron/engine/graph/decoder.ts';
import { KvCache } from '../../electron/engine/kv-cache.ts';

/** A seeded generator (mulberry32), so a failure reproduces. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Entry {
  position: number;
  k: number[];
  v: number[];
}

describe('appendHeadMajor', () => {
  it('turns chunks of sequence-major rows [S, H, d] into one head-major [H, n, d] buffer, in place', () => {
    const H = 3;
    const d = 4;
    const n = 11;
    const rand = rng(1);
    const seq = Float32Array.from({ length: n * H * d }, () => rand()); // [n, H, d]
    const buf = new Float32Array(n * H * d);
    let start = 0;
    for (const S of [1, 4, 2, 4]) {
      appendHeadMajor(buf, seq.subarray(start * H * d, (start + S) * H * d), { start, count: S, heads: H, headDim: d });
      start += S;
      // After each chunk the front of the buffer is [H, start, d].
      for (let h = 0; h < H; h++)
        for (let t = 0; t < start; t++)
          for (let j = 0; j < d; j++) assert.equal(buf[(h * start + t) * d + j], seq[(t * H + h) * d + j], `h${h} t${t} j${j} after ${start}`);
    }
  });
});

describe('KvCache', () => {
  const shape = { numLayers: 2, numKvHeads: 3, headDim: 4, dtype: 'float32' as const };
  const { numKvHeads: H, headDim: d } = shape;

  function check(cache: KvCache, model: Entry[][][]): void {
    model.forEach((heads, l) => {
      const f = cache.feeds(l);
      const cap = f.slots;
      assert.equal(f.keys.length, H * cap * d);
      assert.equal(f.mask.length, H * cap);
      heads.forEach((entries, h) => {
        assert.deepEqual(
          [...cache.positionsOf(l, h)],
          entries.map((e) => e.position),
          `layer ${l} head ${h} positions`,
        );
        let i = 0;
        for (let s = 0; s < cap; s++) {
          const info = cache.slotInfo(l, h, s);
          if (s < cache.slots(l) && info.valid) {
            const e = entries[i++];
            assert.ok(e, `layer ${l} head ${h}: more slots than entries`);
            assert.equal(f.mask[h * cap + s], 0);
            assert.deepEqual([...f.keys.subarray((h * cap + s) * d, (h * cap + s + 1) * d)], e.k);
            assert.deepEqual([...f.values.subarray((h * cap + s) * d, (h * cap + s + 1) * d)], e.v);
          } else assert.equal(f.mask[h * cap + s], Math.fround(MASK_NEG), `layer ${l} head ${h} slot ${s} must be masked`);
        }
        assert.equal(i, entries.length, `layer ${l} head ${h}: every entry is in a slot`);
      });
    });
  }

  it('keeps its buffers, mask and bookkeeping equal to a list model through appends, evictions, compactions and growth', () => {
    const rand = rng(7);
    const n = 9;
    const val = () => Math.round(rand() * 1000) / 8; // exact in float32
    // Prefill K/V head-major [H, n, d] per layer.
    const keys = [0, 1].map(() => Float32Array.from({ length: H * n * d }, val));
    const values = [0, 1].map(() => Float32Array.from({ length: H * n * d }, val));
    const kept = [0, 1].map(() => Array.from({ length: H }, () => Int32Array.from([...Array(n).keys()].filter(() => rand() < 0.6))));
    const cache = KvCache.fromKept(shape, keys, values, n, kept, 2);
    const model: Entry[][][] = kept.map((heads, l) =>
      heads.map((pos, h) =>
        [...pos].map((p) => ({
          position: p,
          k: [...(keys[l] ?? new Float32Array(0)).subarray((h * n + p) * d, (h * n + p + 1) * d)],
          v: [...(values[l] ?? new Float32Array(0)).subarray((h * n + p) * d, (h * n + p + 1) * d)],
        })),
      ),
    );
    check(cache, model);
    const caps = new Set<number>();
    for (let step = 0; step < 90; step++) {
      const S = 1 + Math.floor(rand() * 3);
      for (let l = 0; l < 2; l++) {
        const k = Float32Array.from({ length: S * H * d }, val); // [S, H, d] as the graph returns it
        const v = Float32Array.from({ length: S * H * d }, val);
        cache.append(l, k, v, S);
        for (let h = 0; h < H; h++)
          for (let s = 0; s < S; s++)
            model[l]?.[h]?.push({
              position: cache.nextPosition + s,
              k: [...k.subarray((s * H + h) * d, (s * H + h + 1) * d)],
              v: [...v.subarray((s * H + h) * d, (s * H + h + 1) * d)],
            });
        // Evict a random live token of a random head, by its slot.
        const h = Math.floor(rand() * H);
        const live: number[] = [];
        for (let s = 0; s < cache.slots(l); s++) if (cache.slotInfo(l, h, s).valid) live.push(s);
        if (live.length > 1) {
          const slot = live[Math.floor(rand() * live.length)] ?? 0;
          const pos = cache.slotInfo(l, h, slot).position;
          cache.evict(l, h, slot);
          const list = model[l]?.[h] ?? [];
          list.splice(
            list.findIndex((e) => e.position === pos),
            1,
          );
        }
        if (rand() < 0.2) cache.compact(l);
        caps.add(cache.feeds(l).slots);
      }
      cache.advance(S);
      check(cache, model);
    }
    assert.ok(caps.size > 2, `the capacity grew (capacities seen: ${[...caps].join(', ')})`);
    const size = cache.size();
    assert.equal(
      size.entries,
      model.flat().reduce((a, e) => a + e.length, 0),
    );
  });

  it('adoptFull holds the prefill arrays themselves, then behaves as a full cache: appends grow it once by its reserve, evictions and compactions', () => {
    const rand = rng(11);
    const n = 7;
    const val = () => Math.round(rand() * 1000) / 8;
    const keys = [0, 1].map(() => Float32Array.from({ length: H * n * d }, val));
    const values = [0, 1].map(() => Float32Array.from({ length: H * n * d }, val));
    const copy = KvCache.full(
      shape,
      keys.map((k) => k.slice()),
      values.map((v) => v.slice()),
      n,
      5,
    );
    const adopted = KvCache.adoptFull(shape, keys, values, n, 100); // above the default growth of 64
    assert.equal(adopted.feeds(0).keys, keys[0], 'no copy: the cache feeds the adopted array');
    assert.equal(adopted.feeds(1).values, values[1]);
    assert.throws(() => KvCache.adoptFull(shape, keys, values, n + 1), /do not hold exactly 8 tokens/);
    const model: Entry[][][] = [0, 1].map((l) =>
      Array.from({ length: H }, (_, h) =>
        Array.from({ length: n }, (_, p) => ({
          position: p,
          k: [...(keys[l] ?? new Float32Array(0)).subarray((h * n + p) * d, (h * n + p + 1) * d)],
          v: [...(values[l] ?? new Float32Array(0)).subarray((h * n + p) * d, (h * n + p + 1) * d)],
        })),
      ),
    );
    check(adopted, model);
    for (let step = 0; step < 20; step++) {
      for (let l = 0; l < 2; l++) {
        const k = Float32Array.from({ length: H * d }, val);
        const v = Float32Array.from({ length: H * d }, val);
        for (const c of [copy, adopted]) c.append(l, k, v, 1);
        if (step === 0) assert.ok(adopted.feeds(l).slots >= n + 1 + 100, 'the first growth adds the reserve');
        const h = step % H;
        const live = [...Array(adopted.slots(l)).keys()].filter((s) => adopted.slotInfo(l, h, s).valid);
        const slot = live[step % live.length] ?? 0;
        if (step % 3 === 1) for (const c of [copy, adopted]) c.evict(l, h, slot);
        if (step % 5 === 4) for (const c of [copy, adopted]) c.compact(l);
        for (let hh = 0; hh < H; hh++) assert.deepEqual([...adopted.positionsOf(l, hh)], [...copy.positionsOf(l, hh)]);
      }
      for (const c of [copy, adopted]) c.advance(1);
    }
    assert.deepEqual(adopted.size(), copy.size());
    for (let l = 0; l < 2; l++) {
      const [a, b] = [adopted.feeds(l), copy.feeds(l)];
      for (let h = 0; h < H; h++)
        for (let s = 0; s < adopted.slots(l); s++) {
          const at = (slots: number) => (h * slots + s) * d;
          assert.deepEqual([...a.keys.subarray(at(a.slots), at(a.slots) + d)], [...b.keys.subarray(at(b.slots), at(b.slots) + d)]);
          assert.deepEqual([...a.values.subarray(at(a.slots), at(a.slots) + d)], [...b.values.subarray(at(b.slots), at(b.slots) + d)]);
        }
    }
  });
});

describe('KvCache.view', () => {
  it('feeds the prefill arrays themselves and refuses every change', () => {
    const [H, d, n] = [2, 4, 5];
    const shape = { numLayers: 2, numKvHeads: H, headDim: d, dtype: 'float32' as const };
    const keys = [0, 1].map((l) => Float32Array.from({ length: H * n * d }, (_, i) => l + i / 8));
    const values = [0, 1].map((l) => Float32Array.from({ length: H * n * d }, (_, i) => l - i / 8));
    const view = KvCache.view(shape, keys, values, n);
    assert.equal(view.feeds(1).keys, keys[1]);
    assert.equal(view.feeds(0).values, values[0]);
    assert.deepEqual(view.size(), KvCache.full(shape, keys, values, n).size());
    const refused = /a view of a prefill/;
    assert.throws(() => view.append(0, new Float32Array(H * d), new Float32Array(H * d), 1), refused);
    assert.throws(() => view.evict(0, 0, 1), refused);
    assert.throws(() => view.compact(1), refused);
    assert.throws(() => view.advance(1), refused);
    assert.equal(view.slots(0), n);
    assert.equal(view.nextPosition, n);
  });
});

describe('autoPrefillChunk', () => {
  it('keeps 128 while one [Hq, chunk, n] float32 tensor fits in 32 MiB, halves down to 16 otherwise', () => {
    assert.equal(autoPrefillChunk(32, 2048), 128); // 32·128·2048·4 = 32 MiB exactly
    assert.equal(autoPrefillChunk(32, 2049), 64);
    assert.equal(autoPrefillChunk(32, 8192), 32);
    assert.equal(autoPrefillChunk(12, 8192), 64);
    assert.equal(autoPrefillChunk(12, 32768), 16);
    assert.equal(autoPrefillChunk(64, 131072), 16, 'never below 16');
    for (const [h, n] of [
      [32, 8192],
      [12, 32768],
      [8, 4096],
    ] as const) {
      const c = autoPrefillChunk(h, n);
      assert.ok(c === 16 || h * c * n * 4 <= PREFILL_ATTENTION_BYTES);
      assert.ok(c === 128 || h * 2 * c * n * 4 > PREFILL_ATTENTION_BYTES, 'the largest chunk that fits');
    }
  });
});
