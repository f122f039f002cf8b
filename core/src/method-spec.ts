/**
 * Method strings, as typed on the command line and stored in experiment files:
 *   "full"                      no compression
 *   "snapkv"                    a scorer alone → uniform layer budgets
 *   "zigzagkv"                  an allocator alone → SnapKV token scores
 *   "snapkv/zigzagkv"           scorer / allocator
 *   "snapkv/zigzagkv+adakv"     … with a head-wise split
 * Parameters travel separately (JSON objects); ids are checked against the registry.
 */
import { UnknownMethodError } from './errors.ts';
import type { CompressionConfig } from './pipeline.ts';
import { ALLOCATORS, HEADWISE, isAllocatorId, isHeadwiseId, isScorerId, SCORERS } from './registry.ts';

export const DEFAULT_SCORER = 'snapkv';
export const DEFAULT_ALLOCATOR = 'uniform';

export interface MethodParams {
  readonly scorer?: unknown;
  readonly allocator?: unknown;
  readonly headwise?: unknown;
}

export function parseMethodSpec(text: string, params: MethodParams = {}): 'full' | CompressionConfig {
  const s = text.trim().toLowerCase();
  if (s === 'full' || s === 'fullkv') return 'full';
  const [main = '', head, ...extra] = s.split('+');
  if (extra.length) throw new UnknownMethodError('headwise', extra.join('+'), Object.keys(HEADWISE));
  const parts = main.split('/');
  let scorer: string;
  let allocator: string;
  if (parts.length === 1) {
    const id = parts[0] ?? '';
    if (isScorerId(id)) [scorer, allocator] = [id, DEFAULT_ALLOCATOR];
    else if (isAllocatorId(id)) [scorer, allocator] = [DEFAULT_SCORER, id];
    else throw new UnknownMethodError('scorer', id, [...Object.keys(SCORERS), ...Object.keys(ALLOCATORS)]);
  } else if (parts.length === 2) {
    [scorer = '', allocator = ''] = parts;
    if (!isScorerId(scorer)) throw new UnknownMethodError('scorer', scorer, Object.keys(SCORERS));
    if (!isAllocatorId(allocator)) throw new UnknownMethodError('allocator', allocator, Object.keys(ALLOCATORS));
  } else {
    throw new UnknownMethodError('scorer', main, ['<scorer>/<allocator>[+<headwise>]']);
  }
  if (head !== undefined && !isHeadwiseId(head)) throw new UnknownMethodError('headwise', head, Object.keys(HEADWISE));
  return {
    scorer: { id: scorer, ...(params.scorer !== undefined ? { params: params.scorer } : {}) },
    allocator: { id: allocator, ...(params.allocator !== undefined ? { params: params.allocator } : {}) },
    ...(head ? { headwise: { id: head, ...(params.headwise !== undefined ? { params: params.headwise } : {}) } } : {}),
  };
}

export function formatMethodSpec(m: 'full' | CompressionConfig): string {
  if (m === 'full') return 'full';
  return `${m.scorer.id}/${m.allocator.id}${m.headwise ? `+${m.headwise.id}` : ''}`;
}
