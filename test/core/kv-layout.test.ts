import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { KvModelShape } from '@kvlab/core';
import { appendGenerated, f32, fullLayout, gatherLayer, layoutFromKept, layoutSize, nextPosition, ShapeError } from '@kvlab/core';

const shape: KvModelShape = { numLayers: 2, numKvHeads: 2, headDim: 4, dtype: 'float16' };

describe('KV layout', () => {
  it('holds ragged per-layer, per-head caches with their original positions and counts the bytes held', () => {
    const kept = [
      [Int32Array.from([0, 3, 9]), Int32Array.from([1, 9])],
      [Int32Array.from([9]), Int32Array.from([0, 1, 2, 9])],
    ];
    const layout = layoutFromKept(shape, 10, kept);
    const size = layoutSize(layout);
    assert.deepEqual([...size.perLayer], [5, 5]);
    assert.deepEqual(
      size.perHead.map((h) => [...h]),
      [
        [3, 2],
        [1, 4],
      ],
    );
    assert.equal(size.entries, 10);
    assert.equal(size.bytes, 10 * 4 * 2 * 2); // entries · headDim · (K+V) · fp16
    assert.equal(size.fullBytes, 2 * 2 * 10 * 4 * 2 * 2);
  });

  it('positions continue from the ORIGINAL prompt length after eviction, not from the cache length', () => {
    const layout = layoutFromKept(shape, 10, [
      [Int32Array.from([0, 9]), Int32Array.from([9])],
      [Int32Array.from([5, 9]), Int32Array.from([9])],
    ]);
    assert.equal(nextPosition(layout), 10);
    const after = appendGenerated(layout, 3);
    assert.equal(nextPosition(after), 13);
    assert.deepEqual([...(after.positions[0]?.[1] ?? [])], [9, 10, 11, 12]);
    assert.equal(layoutSize(after).entries, 6 + 4 * 3);
  });

  it('a full layout holds every position', () => {
    const s = layoutSize(fullLayout(shape, 7));
    assert.equal(s.entries, 2 * 2 * 7);
    assert.equal(s.bytes, s.fullBytes);
  });

  it('rejects unsorted, duplicate or out-of-range positions', () => {
    const bad = (p: number[]) =>
      layoutFromKept(shape, 10, [
        [Int32Array.from(p), Int32Array.from([1])],
        [Int32Array.from([1]), Int32Array.from([1])],
      ]);
    assert.throws(() => bad([3, 1]), ShapeError);
    assert.throws(() => bad([1, 1]), ShapeError);
    assert.throws(() => bad([10]), /\[0, 10\)/);
    assert.throws(() => layoutFromKept(shape, 10, []), /need 2 layers/);
  });

  it('gathers the kept rows of K and V per head', () => {
    // keys[h][j][x] = 100h + 10j + x
    const n = 5;
    const d = 2;
    const k = f32(
      [2, n, d],
      Array.from({ length: 2 * n * d }, (_, i) => 100 * Math.floor(i / (n * d)) + 10 * Math.floor((i % (n * d)) / d) + (i % d)),
    );
    const v = f32(
      [2, n, d],
      k.data.map((x) => -x),
    );
    const heads = gatherLayer(k, v, [Int32Array.from([1, 4]), Int32Array.from([0])]);
    assert.deepEqual([...(heads[0]?.keys ?? [])], [10, 11, 40, 41]);
    assert.deepEqual([...(heads[0]?.values ?? [])], [-10, -11, -40, -41]);
    assert.deepEqual([...(heads[1]?.keys ?? [])], [100, 101]);
  });
});
