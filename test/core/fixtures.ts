/**
 * Shared test fixtures for core: seeded random layers with real attention.
 *
 * Observations are built from random Q/K/V through the reference attention
 * (core/analysis/attention.ts), with a few "needle" keys planted so that the
 * attention is peaked in some heads and flat in others — like a real model,
 * and unlike uniform noise, where every method looks the same.
 */
import type { LayerObservation } from '@kvlab/core';
import { createRng, f32, observationFromQkv } from '@kvlab/core';

export interface LayerSpec {
  readonly n: number;
  readonly Hq: number;
  readonly Hkv: number;
  readonly d: number;
  readonly windowSizes: readonly number[];
  readonly accumulated?: boolean;
  /** 0 = diffuse attention, larger = more peaked. */
  readonly sharpness?: number;
}

export function randomQkv(seed: number, n: number, Hq: number, Hkv: number, d: number, sharpness = 1) {
  const rng = createRng(seed);
  const q = new Float32Array(Hq * n * d).map(() => rng.normal());
  const k = new Float32Array(Hkv * n * d).map(() => rng.normal());
  const v = new Float32Array(Hkv * n * d).map(() => rng.normal());
  // Plant needles: a few keys aligned with the mean window query of each KV head.
  const g = Hq / Hkv;
  for (let kh = 0; kh < Hkv; kh++) {
    for (let t = 0; t < 3; t++) {
      const j = rng.int(n);
      for (let x = 0; x < d; x++) {
        let m = 0;
        for (let h = kh * g; h < (kh + 1) * g; h++) m += q[(h * n + n - 1) * d + x] ?? 0;
        k[(kh * n + j) * d + x] = (m / g) * sharpness * (1 + kh);
      }
    }
  }
  return { queries: f32([Hq, n, d], q), keys: f32([Hkv, n, d], k), values: f32([Hkv, n, d], v) };
}

export function randomObservation(seed: number, layer: number, spec: LayerSpec): LayerObservation {
  const qkv = randomQkv(seed * 1009 + layer, spec.n, spec.Hq, spec.Hkv, spec.d, (spec.sharpness ?? 1) * (1 + (layer % 3)));
  return observationFromQkv({ layer, ...qkv, windowSizes: spec.windowSizes, accumulated: spec.accumulated ?? false });
}

export function randomModelObservations(seed: number, L: number, spec: LayerSpec): LayerObservation[] {
  return Array.from({ length: L }, (_, l) => randomObservation(seed, l, spec));
}

/** Element-wise closeness with a clear message (tfjs-core's expectArraysClose). */
export function expectArraysClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol = 1e-6, what = 'array'): void {
  if (actual.length !== expected.length) throw new Error(`${what}: length ${actual.length} ≠ expected ${expected.length}`);
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i] ?? NaN;
    const e = expected[i] ?? NaN;
    if (Number.isNaN(e) ? !Number.isNaN(a) : !(Math.abs(a - e) <= tol * Math.max(1, Math.abs(e)) || a === e)) {
      throw new Error(`${what}[${i}]: got ${a}, expected ${e} (tol ${tol})`);
    }
  }
}
