/**
 * One mapping from KV Lab's own errors to the contract's ApiError, so every
 * transport (IPC, HTTP, the lab process's messages) answers the same code for
 * the same problem — a bad model file is always E_MODEL naming the file, a bad
 * method string always E_INVALID. Each error class states its code itself
 * (LabError.apiCode, core/src/errors.ts), so a new class needs nothing here.
 */
import { ApiError, LabError } from '@kvlab/core';

export function toApiError(e: unknown): ApiError {
  if (e instanceof ApiError) return e;
  if (e instanceof LabError) return new ApiError(e.apiCode, e.message, e.apiDetails);
  // An AbortSignal's default reason (a DOMException, not ours): the user cancelled.
  if (e instanceof Error && e.name === 'AbortError') return new ApiError('E_CANCELLED', e.message);
  // Anything else is a bug: say so, with the message (never the stack).
  return new ApiError('E_INTERNAL', e instanceof Error ? e.message : String(e));
}
