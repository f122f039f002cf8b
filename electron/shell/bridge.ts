/**
 * The objects the preload puts on `window`: `lab` (one verb-named function per
 * contract method, plus onEvent) and `labShell` (file dialogs, dropped-file
 * paths). Built from LAB_CALLS against a minimal ipcRenderer, so the tests
 * check the exact shape with a fake; preload.ts passes the real one.
 *
 * What must never reach the page: ipcRenderer itself, a generic
 * invoke/send, or the IpcRendererEvent (its `sender` is ipcRenderer). The
 * event listener is therefore wrapped and only the payload is passed on.
 */
import type { LabBridge, LabEvent, LabCall, LabResult, ShellExtras } from '@kvlab/core';
import { LAB_CALLS, unwrapLabResult } from '@kvlab/core';
import { LAB_EVENT_CHANNEL, labChannel, SHELL_CHANNELS } from './channels.ts';

/** The part of ipcRenderer we use. */
export interface IpcRendererLike {
  invoke(channel: string, ...args: unknown[]): Promise<unknown>;
  on(channel: string, listener: (event: unknown, ...args: unknown[]) => void): unknown;
  removeListener(channel: string, listener: (event: unknown, ...args: unknown[]) => void): unknown;
}

/** A transport failure (no handler, main process gone) as an envelope, so the page sees one error shape. */
function transportFailure(channel: string, err: unknown): LabResult<never> {
  const message = err instanceof Error ? err.message : String(err);
  return { ok: false, error: { code: 'E_INTERNAL', message: `${channel}: ${message}` } };
}

export function createLabBridge(ipc: IpcRendererLike): LabBridge {
  const bridge: Record<string, unknown> = {};
  for (const method of LAB_CALLS) {
    const channel = labChannel(method as LabCall);
    // Always one argument: the main side refuses more, and an omitted input means "{}".
    bridge[method] = (input: unknown) => ipc.invoke(channel, input ?? {}).catch((err: unknown) => transportFailure(channel, err));
  }
  bridge['onEvent'] = (listener: (e: LabEvent) => void): (() => void) => {
    if (typeof listener !== 'function') throw new TypeError('onEvent needs a function');
    const wrapped = (_event: unknown, payload: unknown): void => listener(payload as LabEvent);
    ipc.on(LAB_EVENT_CHANNEL, wrapped);
    let subscribed = true;
    return () => {
      if (!subscribed) return;
      subscribed = false;
      ipc.removeListener(LAB_EVENT_CHANNEL, wrapped);
    };
  };
  // Every key of LabBridge was set above from the contract's own table.
  return Object.freeze(bridge) as LabBridge;
}

export function createShellExtras<F>(ipc: IpcRendererLike, getPathForFile: (file: F) => string): ShellExtras<F> {
  // Shell calls answer envelopes too; unwrapping here is fine because these errors carry no code the page acts on.
  const pick = (channel: string) => async (): Promise<string | null> => unwrapLabResult<string | null>(await ipc.invoke(channel));
  return Object.freeze({
    pickModelFile: pick(SHELL_CHANNELS.pickModelFile),
    pickModelFolder: pick(SHELL_CHANNELS.pickModelFolder),
    getPathForFile: (file: F) => getPathForFile(file),
  });
}
