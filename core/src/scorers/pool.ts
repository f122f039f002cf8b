/**
 * 1-D pooling along the token axis, stride 1, padding ⌊k/2⌋, same length —
 * PyTorch's `F.max_pool1d` / `F.avg_pool1d` as SnapKV and KVCache-Factory call
 * them. Max pooling pads with −∞ (ignored); average pooling pads with zeros
 * and divides by k (PyTorch's default count_include_pad=True), so edge tokens
 * score lower exactly as in the reference code.
 *
 * Shapes: `src` is rows × len (row-major); the result has the same shape.
 * An even kernel is rejected by the schema (PyTorch would change the length).
 */
export type Pooling = 'max' | 'avg' | 'none';

export function pool1d(src: Float32Array, rows: number, len: number, kernel: number, pooling: Pooling): Float32Array {
  if (pooling === 'none' || kernel <= 1) return src.slice(0, rows * len);
  const out = new Float32Array(rows * len);
  const pad = kernel >> 1;
  for (let r = 0; r < rows; r++) {
    const base = r * len;
    for (let j = 0; j < len; j++) {
      const a = Math.max(0, j - pad);
      const b = Math.min(len - 1, j + pad);
      if (pooling === 'max') {
        let m = -Infinity;
        for (let t = a; t <= b; t++) m = Math.max(m, src[base + t] ?? -Infinity);
        out[base + j] = m;
      } else {
        let s = 0;
        for (let t = a; t <= b; t++) s += src[base + t] ?? 0;
        out[base + j] = s / kernel;
      }
    }
  }
  return out;
}
