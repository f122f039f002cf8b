/**
 * The messages between the app (lab-process-client.ts) and the lab process
 * (lab-process.ts), and the tiny `Port` both sides talk through.
 *
 * Why a child process at all: onnxruntime-node's session.run blocks the JS
 * thread of the process it runs in, so an engine in the main process would
 * freeze the window (Electron) or the HTTP server (serve mode) for the length
 * of a prefill. The child is a `child_process.fork` (serve mode, tests) or an
 * Electron `utilityProcess` (the desktop app); both carry structured messages,
 * which `Port` hides.
 *
 *   parent → child   { id, method, payload }           a LabHandlers call ("$init" first, "$close" last)
 *   child → parent   { id, ok: true, result }          its answer
 *                    { id, ok: false, error }          ApiError JSON
 *                    { event }                          a LabEvent, pushed whenever the lab has one
 */
import type { ApiErrorCode, LabEvent } from '@kvlab/core';
import type { LabServiceOptions } from './service.ts';

export interface Request {
  readonly id: number;
  readonly method: string;
  readonly payload: unknown;
}

export type Reply =
  | { readonly id: number; readonly ok: true; readonly result: unknown }
  | { readonly id: number; readonly ok: false; readonly error: { readonly code: ApiErrorCode; readonly message: string; readonly details?: unknown } };

export interface EventMessage {
  readonly event: LabEvent;
}

export type ChildMessage = Reply | EventMessage;

/**
 * Set to '1' in the lab process's environment by every spawner: lab-process.ts
 * serves only then. Defined here, not in lab-process.ts, so importing it
 * does not load the lab service (the Electron main process bundle stays small).
 */
export const LAB_PROCESS_ENV = 'KVLAB_LAB_PROCESS';

/** First call: the service options (all but `emit`, which is the port). */
export const INIT = '$init';
/** Last call: cancel the running run, release the engine, then the child exits. */
export const CLOSE = '$close';

/** Functions cannot cross the process boundary: the lab process always opens the real engine. */
export type InitPayload = Omit<LabServiceOptions, 'emit' | 'openModel'>;

/** One end of the message channel. */
export interface Port {
  postMessage(message: unknown): void;
  /** Subscribes to incoming messages; returns the unsubscribe function. */
  onMessage(listener: (message: unknown) => void): () => void;
}

export function isRequest(m: unknown): m is Request {
  return typeof m === 'object' && m !== null && typeof (m as Request).id === 'number' && typeof (m as Request).method === 'string';
}

export function isReply(m: unknown): m is Reply {
  return typeof m === 'object' && m !== null && typeof (m as Reply).id === 'number' && typeof (m as Reply).ok === 'boolean';
}

export function isEventMessage(m: unknown): m is EventMessage {
  return typeof m === 'object' && m !== null && typeof (m as EventMessage).event === 'object' && (m as EventMessage).event !== null;
}
