/**
 * RoPE angles, computed in float64 on the JS side and fed to the graph as
 * cos/sin tables (so positions in the tens of thousands stay exact, and every
 * scaling scheme is one function here rather than graph surgery).
 *
 *   inv_freq_i = θ^(−2i/d), i = 0 … d/2 − 1
 *   'linear' scaling: position / factor
 *   'llama3' scaling: Hugging Face `_compute_llama3_parameters` — wavelengths
 *     longer than original/lowFreqFactor are divided by `factor`, shorter than
 *     original/highFreqFactor are kept, and the band between is interpolated.
 */
import type { ModelConfig } from './model.ts';

export function inverseFrequencies(config: Pick<ModelConfig, 'headDim' | 'ropeTheta' | 'ropeScaling'>): Float64Array {
  const half = config.headDim / 2;
  const inv = Float64Array.from({ length: half }, (_, i) => config.ropeTheta ** (-(2 * i) / config.headDim));
  const s = config.ropeScaling;
  if (s?.type === 'llama3') {
    const lowWavelen = s.originalMaxPositionEmbeddings / s.lowFreqFactor;
    const highWavelen = s.originalMaxPositionEmbeddings / s.highFreqFactor;
    for (let i = 0; i < half; i++) {
      const f = inv[i] ?? 0;
      const wavelen = (2 * Math.PI) / f;
      if (wavelen > lowWavelen) inv[i] = f / s.factor;
      else if (wavelen >= highWavelen) {
        const smooth = (s.originalMaxPositionEmbeddings / wavelen - s.lowFreqFactor) / (s.highFreqFactor - s.lowFreqFactor);
        inv[i] = (1 - smooth) * (f / s.factor) + smooth * f;
      }
    }
  } else if (s?.type === 'linear') {
    for (let i = 0; i < half; i++) inv[i] = (inv[i] ?? 0) / s.factor;
  }
  return inv;
}

/** cos/sin tables [positions.length, d/2] as float32 for the graph's rope_cos / rope_sin inputs. */
export function ropeTables(inv: Float64Array, positions: ArrayLike<number>): { cos: Float32Array; sin: Float32Array } {
  const half = inv.length;
  const cos = new Float32Array(positions.length * half);
  const sin = new Float32Array(positions.length * half);
  for (let s = 0; s < positions.length; s++) {
    const p = positions[s] ?? 0;
    for (let i = 0; i < half; i++) {
      const a = p * (inv[i] ?? 0);
      cos[s * half + i] = Math.cos(a);
      sin[s * half + i] = Math.sin(a);
    }
  }
  return { cos, sin };
}
