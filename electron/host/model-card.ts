/**
 * What the Models screen shows about a model file: its summary (id, name,
 * format, whether it is bundled or loaded) and its card (shape, sizes, a
 * description, the header's showable metadata). Pure over the loader's
 * ModelInfo, except for re-reading the header's metadata once per model.
 */
import type { ModelCard, ModelSummary } from '@kvlab/core';
import { readGgufHeader } from '../engine/formats/gguf.ts';
import { readHfModelHeader } from '../engine/formats/hf.ts';
import type { ModelInfo } from '../engine/load.ts';

export interface KnownModel {
  readonly id: string;
  readonly path: string;
  readonly bundled: boolean;
  /** The file's own name for itself, unless that is just the architecture ("llama"): then the file name. */
  readonly name: string;
  readonly info: ModelInfo;
  readonly metadata: Readonly<Record<string, string | number>>;
}

/** A metadata value as the card shows it: strings capped at 2,000 characters, big integers exact as text. */
function showable(v: unknown): string | number | undefined {
  if (typeof v === 'string') return v.length > 2000 ? `${v.slice(0, 2000)}…` : v;
  if (typeof v === 'number') return v;
  if (typeof v === 'boolean') return String(v);
  if (typeof v === 'bigint') return v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(v) : v.toString();
  return undefined;
}

/** Showable metadata: GGUF `general.*` (HF: the config fields the loader keeps), scalars only. */
export function modelMetadata(info: ModelInfo): Record<string, string | number> {
  const out: Record<string, string | number> = {};
  const put = (k: string, v: unknown): void => {
    const s = showable(v);
    if (s !== undefined) out[k] = s;
  };
  try {
    if (info.format === 'gguf') {
      for (const [k, v] of readGgufHeader(info.path).metadata) if (k.startsWith('general.')) put(k, v);
    } else if (info.format === 'hf') {
      for (const [k, v] of Object.entries(readHfModelHeader(info.path).metadata)) put(k, v);
    }
  } catch {
    // inspectModel already read these headers; a failure here only loses the extra metadata
  }
  return out;
}

function parameterCount(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)}B`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  return `${(n / 1e3).toFixed(0)}K`;
}

/** The file's own description when it has one, else one generated from its shape. */
function describe(info: ModelInfo, metadata: Readonly<Record<string, string | number>>): string {
  const d = metadata['general.description'];
  if (typeof d === 'string' && d.trim()) return d.trim();
  return `${info.architecture} model, ${parameterCount(info.parameters)} parameters: ${info.layers} layers, ${info.heads} attention heads (${info.kvHeads} KV), head dim ${info.headDim}, context ${info.contextLength}`;
}

export function modelSummary(m: KnownModel, loadedModelId: string | null): ModelSummary {
  return { id: m.id, path: m.path, name: m.name, format: m.info.format, bundled: m.bundled, loaded: loadedModelId === m.id };
}

export function modelCard(m: KnownModel, loadedModelId: string | null): ModelCard {
  const i = m.info;
  return {
    ...modelSummary(m, loadedModelId),
    architecture: i.architecture,
    description: describe(i, m.metadata),
    parameters: i.parameters,
    layers: i.layers,
    heads: i.heads,
    kvHeads: i.kvHeads,
    headDim: i.headDim,
    contextLength: i.contextLength,
    vocabSize: i.config.vocabSize,
    kvBytesPerToken: { ...i.kvBytesPerToken },
    fileBytes: i.fileBytes,
    estimatedLoadBytes: i.estimatedLoadBytes,
    ...(i.floatWeightEstimates ? { floatWeightEstimates: { ...i.floatWeightEstimates } } : {}),
    storedTypes: { ...i.storedTypes },
    metadata: { ...m.metadata },
  };
}
