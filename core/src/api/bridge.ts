/**
 * The Electron bridge's wire shape, shared by the preload (which builds it),
 * the main process (which answers it) and the renderer (which turns it back
 * into a `LabApi`).
 *
 * Why an envelope instead of rejecting with an `ApiError`: Electron's
 * contextBridge copies an Error thrown or rejected across the isolated-world
 * boundary as a new Error with only its message (electron/electron#28346), and
 * ipcRenderer.invoke does the same for errors thrown in ipcMain.handle. The
 * error's `code` and `details` would be lost on the way to the page. So every
 * bridged call resolves to `{ ok, value }` or `{ ok: false, error }` (plain
 * data, which both hops copy faithfully), and `labApiFromBridge` — running in
 * the page's own world — rethrows real `ApiError`s built with
 * `ApiError.fromJSON`, exactly as the HTTP client does in serve mode.
 */
import type { LabApi, LabEvent, LabInput, LabCall, LabOutput } from './contract.ts';
import { ApiError, LAB_CALLS } from './contract.ts';

export type ApiErrorJSON = ReturnType<ApiError['toJSON']>;

/** One bridged call's answer. */
export type LabResult<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: ApiErrorJSON };

/** What the Electron preload exposes as `window.lab`: one verb-named function per method, answering envelopes, plus onEvent. */
export type LabBridge = { readonly [M in LabCall]: (input: LabInput<M>) => Promise<LabResult<LabOutput<M>>> } & {
  readonly onEvent: (listener: (e: LabEvent) => void) => () => void;
};

/**
 * Desktop-only helpers the preload exposes as `window.labShell` (absent in
 * serve mode): native file dialogs, and the path of a dropped file (Electron
 * no longer puts `path` on File objects; only the preload can ask). `F` is the
 * DOM File type, left generic because core has no DOM lib.
 */
export interface ShellExtras<F = unknown> {
  /** Native open dialog for a GGUF / llama2.c .bin file; null when cancelled. */
  readonly pickModelFile: () => Promise<string | null>;
  /** Native folder dialog for a Hugging Face model folder; null when cancelled. */
  readonly pickModelFolder: () => Promise<string | null>;
  /** The file-system path of a File from a drop event ('' when it has none). */
  readonly getPathForFile: (file: F) => string;
}

/**
 * The error JSON a transport sends for anything a handler threw: an ApiError
 * as is; anything else as E_INTERNAL with its message only (never the stack:
 * the page has no use for the host's file layout).
 */
export function errorToJSON(err: unknown, context: string): ApiErrorJSON {
  if (err instanceof ApiError) return err.toJSON();
  const message = err instanceof Error ? err.message : String(err);
  return { code: 'E_INTERNAL', message: `${context}: ${message}` };
}

/** Unwraps one envelope: the value, or a thrown ApiError. */
export function unwrapLabResult<T>(r: unknown): T {
  if (typeof r === 'object' && r !== null && 'ok' in r) {
    if (r.ok === true && 'value' in r) return r.value as T;
    if (r.ok === false && 'error' in r) throw ApiError.fromJSON(r.error);
  }
  throw new ApiError('E_INTERNAL', `malformed bridge answer: ${JSON.stringify(r)}`);
}

/** The renderer's `LabApi` over the Electron bridge (`window.lab`): same methods, real ApiError rejections. */
export function labApiFromBridge(bridge: LabBridge): LabApi {
  const api: Record<string, unknown> = {};
  for (const name of LAB_CALLS) {
    const call = bridge[name] as (input: unknown) => Promise<unknown>;
    api[name] = async (input: unknown) => unwrapLabResult(await call(input));
  }
  api['onEvent'] = (listener: (e: LabEvent) => void) => bridge.onEvent(listener);
  // The mapped type cannot be built key by key; every key of LabApi was set above from the same table.
  return Object.freeze(api) as LabApi;
}
