/**
 * The model card's "stored tensor types" in words. A GGUF (or safetensors)
 * file stores each tensor in one element type; the card lists how many weight
 * values are stored in each. "F32 × 1705600" said that in shorthand nobody
 * could read; this spells it out: the type, what it means, the count of
 * values and their share of the file's weights.
 */

export interface TensorTypeRow {
  /** The file's own name for the type ('F32', 'Q4_K'). */
  readonly type: string;
  /** What it is, in words ('32-bit float', '4-bit blocks (k-quant)'). */
  readonly words: string;
  /** Weight values (tensor elements) stored in this type. */
  readonly elements: number;
  /** elements / all elements of the file. */
  readonly share: number;
}

/** A GGML / safetensors element type in words; an unknown name is returned as it is. */
export function tensorTypeWords(type: string): string {
  const t = type.toUpperCase();
  if (t === 'F32') return '32-bit float';
  if (t === 'F16') return '16-bit float';
  if (t === 'BF16') return 'bfloat16 (16-bit)';
  if (t === 'F64') return '64-bit float';
  if (/^I(8|16|32|64)$/.test(t)) return `${t.slice(1)}-bit integer`;
  const q = /^(I?Q)(\d)_(0|1|K|K_S|K_M|XS|XXS|S|M|NL)$/.exec(t);
  if (q) return `${q[2]}-bit blocks${q[3]?.startsWith('K') ? ' (k-quant)' : q[1] === 'IQ' ? ' (i-quant)' : ''}`;
  if (/^TQ\d_0$/.test(t)) return 'ternary blocks';
  return type;
}

/** One row per stored type, most elements first. */
export function tensorTypeRows(storedTypes: Readonly<Record<string, number>>): TensorTypeRow[] {
  const entries = Object.entries(storedTypes).filter(([, n]) => Number.isFinite(n) && n > 0);
  const total = entries.reduce((a, [, n]) => a + n, 0);
  return entries
    .map(([type, elements]) => ({ type, words: tensorTypeWords(type), elements, share: total > 0 ? elements / total : 0 }))
    .sort((a, b) => b.elements - a.elements || a.type.localeCompare(b.type));
}
