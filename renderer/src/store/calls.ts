/**
 * What the Playground and the layer profile share for their long calls
 * (host/calls.ts): a request id to name the call, the progress its
 * call.progress events report, and telling a cancellation from a failure.
 */
import type { LabApi, LabEvent } from '@kvlab/core';
import { ApiError } from '@kvlab/core';

/** A call.progress event without its tag: what a progress line shows. */
export type CallProgress = Omit<Extract<LabEvent, { type: 'call.progress' }>, 'type'>;

let issued = 0;

/**
 * A request id no other call of this page, or of another client of the same engine (serve mode), will use:
 * a counter and the time keep this page's apart, random digits another page's. Not crypto.randomUUID: a page
 * served over plain HTTP from another machine is not a secure context and has none.
 */
export function newRequestId(prefix: string): string {
  issued++;
  return `${prefix}-${Date.now().toString(36)}-${issued.toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
}

/** Whether a call failed because the user cancelled it (not an error to show). */
export function isCancelled(e: unknown): boolean {
  return e instanceof ApiError && e.code === 'E_CANCELLED';
}

/** Asks the engine to stop the call `requestId` names (none: nothing to do); a failure to ask goes to `report`. */
export async function cancelRequest(api: Pick<LabApi, 'cancelCall'>, requestId: string | null | undefined, report: (e: unknown) => void): Promise<void> {
  if (!requestId) return;
  try {
    await api.cancelCall({ requestId });
  } catch (e) {
    report(e);
  }
}
