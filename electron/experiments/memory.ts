/**
 * Whether a sample's KV cache fits in the memory a run has, checked before
 * the OS finds out. At the lengths the lab is for, the K/V outweigh the model:
 * Llama-3-8B holds 256 KiB per token as float32, so one 32K-token prompt is
 * 8 GiB of keys and values on top of a 4.5 GB Q4_0 file. A run that cannot
 * hold them is killed mid-prefill by the kernel, and the lab process with it;
 * this turns that into a typed error, raised before the first prefill for the
 * samples whose plan states their length, and before each prefill with the
 * prompt's real length.
 *
 * The figure is what the runner holds at once (runner.ts, generate.ts): a
 * sample's prefill, and then
 *   - generating: each compressed cell builds its cache (its budget's share c
 *     of the prompt, plus room for the answer) beside the prefill, and the
 *     full-cache cell, run last, takes the prefill's K/V over and grows them
 *     by its answer: so (1 + c) × prompt + answer tokens, c the largest share
 *     among the sample's compressed cells (0 with none; the Playground's
 *     configurations likewise);
 *   - fidelity: the full-cache reference is built from a copy of the prefill
 *     while the prefill stays for the compressed cells, so 2 × prompt +
 *     continuation; where that does not fit, the reference is computed over
 *     the prefill's own arrays instead (cell.ts, fullFidelityReference
 *     inPlace: no copy, a slower greedy reference), so (1 + c) × prompt +
 *     continuation.
 * Left out, so a sample the check refuses could not have fitted, while one it
 * lets through near the limit may still run out:
 *   - the prefill's transient chunk tensors: autoPrefillChunk keeps each
 *     attention tensor to 32 MiB while the chunk is above its floor of 16
 *     tokens, and past that they grow with the prompt (Llama-3-8B's 32 heads
 *     × 16 × 128K positions: 256 MiB each); onnxruntime's arena keeps several;
 *   - the logits;
 *   - head-wise (Ada-KV) caches beyond their budget: a layer is allocated for
 *     its largest head (KvCache.fromKept), and c counts the average.
 */
import type { BudgetSpec, KvModelShape } from '@kvlab/core';
import { fitBudget, formatBytesFixed, resolveBudget } from '@kvlab/core';
import type { Method } from '../engine/generate.ts';
import type { InferenceEngine } from '../engine/inference-engine.ts';
import { kvBytesPerToken } from '../engine/load.ts';
import { ModelFileError } from '../engine/model.ts';
import type { KvType } from '../engine/graph/decoder.ts';

/** One sample's length, as far as it is known. */
export interface SampleKv {
  /** What the error calls it: "sample '…'", "the prompt". */
  readonly what: string;
  readonly promptTokens: number;
  /** Tokens decoded after the prompt: the answer allowance, or the fidelity continuation. */
  readonly decodeTokens: number;
  readonly fidelity: boolean;
  /** The largest compressed cache among the sample's cells, as a share of its prompt (compressedShare); 0 or absent: none. */
  readonly compressedShare?: number;
}

/** Bytes of K/V the runner holds at once for the sample (module comment); `inPlace`: a fidelity reference that copies nothing. */
export function sampleKvBytes(bytesPerToken: number, s: SampleKv, inPlace = false): number {
  const beside = Math.min(1, Math.max(0, s.compressedShare ?? 0));
  // A copying fidelity reference (2 × prompt) outweighs any compressed cache beside the prefill (at most 1 × prompt).
  const prompts = s.fidelity && !inPlace ? 2 : 1 + beside;
  return bytesPerToken * (prompts * s.promptTokens + s.decodeTokens);
}

/** A compressed configuration of a sample: the method and its budget (none for the full cache). */
export interface CacheConfig {
  readonly method: Method;
  readonly budget?: BudgetSpec | undefined;
}

/**
 * The largest share of an n-token prompt any of `configs` keeps: the budget as generate's compressionOf
 * resolves it (resolveBudget, raised by fitBudget where the method needs more), so the share its cache
 * really holds. 0 when every configuration is the full cache.
 */
export function compressedShare(shape: KvModelShape, configs: readonly CacheConfig[], promptTokens: number): number {
  let share = 0;
  for (const { method, budget } of configs) {
    if (method === 'full' || !budget || promptTokens < 1) continue;
    share = Math.max(share, fitBudget(resolveBudget(budget, shape, promptTokens), method).keepRatio);
  }
  return Math.min(1, share);
}

/** How a sample holds its K/V: the bytes, and whether its fidelity reference reads the prefill in place for want of room for a copy. */
export interface SampleKvPlan {
  readonly bytes: number;
  readonly inPlace: boolean;
}

/** What the check needs to know of the model and the run. */
export interface KvRoom {
  /** The model's file, named in the error. */
  readonly file: string;
  readonly kvType: KvType;
  /** What the user can change where they are: how to ask for the f16 cache (an experiment's "engine", the app's settings), and what to shorten. */
  readonly remedy: { readonly halve: string; readonly shorten: string };
  readonly bytesPerToken: number;
  /** Memory available with the model loaded and its engine started, before any sample. */
  readonly available: number;
}

/** The room of a started engine's model: its bytes per token in the engine's cache type, and `available` as measured now. */
export function kvRoomOf(file: string, engine: Pick<InferenceEngine, 'config' | 'kvType'>, remedy: KvRoom['remedy'], available: number): KvRoom {
  return { file, kvType: engine.kvType, remedy, bytesPerToken: kvBytesPerToken(engine.config, engine.kvType === 'f16' ? 2 : 4), available };
}

/**
 * planSampleKv for a prompt that is generated from (the Playground, the layer profile, demo:engine), with the
 * share of it the largest compressed cache keeps beside it (compressedShare): throws when it cannot fit.
 */
export function checkPromptKv(room: KvRoom, promptTokens: number, decodeTokens: number, compressed = 0): void {
  planSampleKv(room, { what: 'the prompt', promptTokens, decodeTokens, fidelity: false, compressedShare: compressed });
}

/**
 * How the sample will hold its K/V in `room`: a fidelity sample copies its prefill for the full-cache
 * reference when that fits, else reads it in place. Throws ModelFileError E_MODEL_TOO_LARGE, with the
 * figures and what to change, when even that cannot fit.
 */
export function planSampleKv(room: KvRoom, s: SampleKv): SampleKvPlan {
  const copying = sampleKvBytes(room.bytesPerToken, s);
  if (copying <= room.available) return { bytes: copying, inPlace: false };
  const need = sampleKvBytes(room.bytesPerToken, s, true);
  if (s.fidelity && need <= room.available) return { bytes: need, inPlace: true };
  const { halve, shorten } = room.remedy;
  const remedy = room.kvType === 'f32' ? `${halve} to halve it, or ${shorten}` : shorten;
  const share = Math.min(1, s.compressedShare ?? 0);
  const beside = share > 0 ? `, with a compressed cache of ${(share * 100).toFixed(0)} % of the prompt beside it` : '';
  throw new ModelFileError(
    room.file,
    `${s.what} (${s.promptTokens.toLocaleString('en-US')} prompt + ${s.decodeTokens.toLocaleString('en-US')} decoded tokens${beside}) needs about ${formatBytesFixed(need)} of ${room.kvType} KV cache (${formatBytesFixed(room.bytesPerToken)} per token) beyond the loaded model, but only ${formatBytesFixed(room.available)} is available — ${remedy}`,
    'E_MODEL_TOO_LARGE',
  );
}
