/**
 * The single registry of methods: the list that drives the UI pickers,
 * experiment validation, the conformance tests and the benchmark.
 *
 * Nothing registers itself at import time (so the list is visible here, and
 * no import order can change it): adding a method is
 * one file plus one line here, and the conformance suite covers it with no
 * new test code (docs/adding-a-method.md).
 */
import { z } from 'zod';
import { UnknownMethodError } from './errors.ts';
import type { AllocatorDef, HeadwiseDef, ScorerDef } from './method.ts';
import { defaultParams, parseParams } from './method.ts';
import { cake } from './allocators/cake.ts';
import { pyramidkv } from './allocators/pyramidkv.ts';
import { uniform } from './allocators/uniform.ts';
import { zigzagkv } from './allocators/zigzagkv.ts';
import { adakv } from './headwise/adakv.ts';
import { h2o } from './scorers/h2o.ts';
import { knorm } from './scorers/knorm.ts';
import { random } from './scorers/random.ts';
import { snapkv } from './scorers/snapkv.ts';
import { streamingllm } from './scorers/streamingllm.ts';
import { tova } from './scorers/tova.ts';

export const SCORERS = { snapkv, h2o, streamingllm, tova, knorm, random } as const satisfies { readonly [K in string]: ScorerDef<K, unknown> };
export const ALLOCATORS = { uniform, pyramidkv, zigzagkv, cake } as const satisfies { readonly [K in string]: AllocatorDef<K, unknown> };
export const HEADWISE = { adakv } as const satisfies { readonly [K in string]: HeadwiseDef<K, unknown> };

export type ScorerId = keyof typeof SCORERS;
export type AllocatorId = keyof typeof ALLOCATORS;
export type HeadwiseId = keyof typeof HEADWISE;
export type MethodKind = 'scorer' | 'allocator' | 'headwise';

/** Named parameter presets shown in the UI and exercised by the conformance suite. */
export const PRESETS: { readonly [K in ScorerId | AllocatorId | HeadwiseId]?: Readonly<Record<string, Readonly<Record<string, unknown>>>> } = {
  snapkv: { 'KVCache-Factory LongBench (α 8, max 7)': {}, 'kvpress (α 64, avg 5)': { windowSize: 64, kernelSize: 5, pooling: 'avg' } },
  pyramidkv: { 'conserving (exact total)': {}, 'KVCache-Factory integer schedule': { schedule: 'kvcacheFactory' } },
  adakv: { 'safeguard 0.2 (kvpress)': {}, 'FFY0 blend 0.5': { allocation: 'blend', alphaSafeguard: 0.5 } },
  cake: { 'τ1 = τ2 = 1': {}, 'Llama-3.1-8B @1024 (τ1 1.6, τ2 0.4)': { tau1: 1.6, tau2: 0.4 } },
  zigzagkv: {
    'spec default (τ 0.9, floor 0.2·B_avg)': {},
    'kvpress v1 (floor 0.1)': { boundRatio: 0.1 },
    'unbounded (Eq. 5)': { boundRatio: 0 },
    'kvpress v2 port (pooled scores, per-layer rounding)': { lmbaSource: 'pooledScores', rounding: 'perLayer' },
  },
};

const has = <T extends object>(o: T, id: string): id is Extract<keyof T, string> => Object.prototype.hasOwnProperty.call(o, id);

export function isScorerId(id: string): id is ScorerId {
  return has(SCORERS, id);
}
export function isAllocatorId(id: string): id is AllocatorId {
  return has(ALLOCATORS, id);
}
export function isHeadwiseId(id: string): id is HeadwiseId {
  return has(HEADWISE, id);
}

/* The erased views below are sound because a method's parameters are always
 * produced by its own schema (parseParams) before being passed back to it. */

export function getScorer(id: string): ScorerDef<string, unknown> {
  if (!isScorerId(id)) throw new UnknownMethodError('scorer', id, Object.keys(SCORERS));
  return SCORERS[id] as unknown as ScorerDef<string, unknown>;
}
export function getAllocator(id: string): AllocatorDef<string, unknown> {
  if (!isAllocatorId(id)) throw new UnknownMethodError('allocator', id, Object.keys(ALLOCATORS));
  return ALLOCATORS[id] as unknown as AllocatorDef<string, unknown>;
}
export function getHeadwise(id: string): HeadwiseDef<string, unknown> {
  if (!isHeadwiseId(id)) throw new UnknownMethodError('headwise', id, Object.keys(HEADWISE));
  return HEADWISE[id] as unknown as HeadwiseDef<string, unknown>;
}

/**
 * Serializable description of one compression method, for the UI's pickers and
 * the CLI (`kvlab methods`): its definition (method.ts's CompressionMethodDef)
 * with the parameters as JSON Schema, their defaults and the named presets.
 */
export interface MethodInfo {
  readonly kind: MethodKind;
  readonly id: string;
  readonly label: string;
  readonly summary: string;
  readonly paperUrl: string;
  readonly defaults: unknown;
  /** JSON Schema of the parameters: types, ranges, enums, descriptions. */
  readonly schema: unknown;
  readonly presets: Readonly<Record<string, unknown>>;
  readonly decodeTime?: boolean;
}

function info(
  kind: MethodKind,
  m: { id: string; label: string; summary: string; paperUrl: string; params: z.ZodType },
  extra: { decodeTime?: boolean } = {},
): MethodInfo {
  return {
    kind,
    id: m.id,
    label: m.label,
    summary: m.summary,
    paperUrl: m.paperUrl,
    defaults: defaultParams(m),
    schema: z.toJSONSchema(m.params, { io: 'input', unrepresentable: 'any' }),
    presets: PRESETS[m.id as ScorerId] ?? {},
    ...extra,
  };
}

export function describeMethods(): MethodInfo[] {
  return [
    ...Object.values(SCORERS).map((m) => info('scorer', m, { decodeTime: m.decodeTime })),
    ...Object.values(ALLOCATORS).map((m) => info('allocator', m)),
    ...Object.values(HEADWISE).map((m) => info('headwise', m)),
  ];
}

/** Validates a method choice: known id, valid parameters. Returns the parsed parameters. */
export function validateMethod(kind: MethodKind, id: string, raw?: unknown): unknown {
  const def = kind === 'scorer' ? getScorer(id) : kind === 'allocator' ? getAllocator(id) : getHeadwise(id);
  return parseParams(def, raw ?? {});
}
