/**
 * One mapping from the engine's, runner's and reports' own error classes to
 * the contract's ApiError, so every transport (IPC, HTTP, the engine child's
 * messages) answers the same code for the same problem — a bad model file is
 * always E_MODEL naming the file, a bad method string always E_INVALID.
 */
import { ApiError, BudgetError, ExperimentError, MissingInputError, ParamError, ShapeError, UnknownMethodError } from '@kvlab/core';
import { ModelFileError } from '../engine/model.ts';
import { WorkloadFileError } from '../experiments/samples.ts';
import { LockError, StoreError } from '../experiments/store.ts';
import { ChromiumMissingError, PdfError, ReportError } from '../reports/index.ts';

const message = (e: unknown): string => (e instanceof Error ? e.message : String(e));

export function toApiError(e: unknown): ApiError {
  if (e instanceof ApiError) return e;
  if (e instanceof ModelFileError) return new ApiError('E_MODEL', e.message, { file: e.file, reason: e.code });
  if (e instanceof ExperimentError) return new ApiError('E_INVALID', e.message, { issues: e.issues });
  if (e instanceof UnknownMethodError || e instanceof ParamError || e instanceof BudgetError || e instanceof MissingInputError || e instanceof ShapeError)
    return new ApiError('E_INVALID', e.message);
  if (e instanceof WorkloadFileError) return new ApiError('E_NOT_FOUND', e.message, { file: e.file });
  // No Chromium is a missing program, not a bug: the UI says how to install it (details.reason tells it apart).
  if (e instanceof ChromiumMissingError) return new ApiError('E_NOT_FOUND', e.message, { reason: 'chromium-missing', tried: e.tried });
  if (e instanceof ReportError) return new ApiError('E_INVALID', e.message);
  // Another process writes the run's folder (a `kvlab run --out` on it): busy, with who holds it so the UI can say.
  if (e instanceof LockError) return new ApiError('E_BUSY', e.message, { file: e.dir, holder: e.holder });
  if (e instanceof StoreError || e instanceof PdfError) return new ApiError('E_INTERNAL', e.message, { file: e instanceof StoreError ? e.path : e.outPath });
  if (e instanceof Error && e.name === 'AbortError') return new ApiError('E_CANCELLED', e.message);
  return new ApiError('E_INTERNAL', message(e));
}
