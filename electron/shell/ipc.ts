/**
 * The main-process side of the Electron bridge: one ipcMain.handle per
 * contract method, each refusing callers that are not our window, validating
 * the payload with the contract's own schema, and answering an envelope
 * (`LabResult`, see core/src/api/bridge.ts) instead of throwing, because
 * ipcRenderer.invoke would strip an ApiError down to its message.
 *
 * Written against tiny structural interfaces instead of electron's classes
 * (type-only use of electron, none at run time), so the tests drive it with a
 * fake ipcMain under plain Node; main.ts passes the real ipcMain, and the
 * compiler checks it fits.
 */
import type { LabHandlers, LabCall, LabResult } from '@kvlab/core';
import { ApiError, errorToJSON, LAB_CALLS, parseInput } from '@kvlab/core';
import { labChannel } from './channels.ts';

/** What we read off an IpcMainInvokeEvent. */
export interface InvokeEventLike {
  readonly sender: { readonly id: number };
  /** Null once the frame navigated away or was destroyed. */
  readonly senderFrame: { readonly url: string; readonly parent: object | null } | null;
}

/** The part of ipcMain we use. */
export interface IpcMainLike {
  handle(channel: string, listener: (event: InvokeEventLike, ...args: unknown[]) => Promise<unknown>): void;
  removeHandler(channel: string): void;
}

export type SenderCheck = (event: InvokeEventLike) => boolean;

/**
 * Trusted = the top frame of one of our windows, showing our own origin.
 * Both halves matter: the webContents id rules out any other renderer (a
 * devtools extension page, a future second window type), the frame URL and
 * parent rule out a subframe or a page the window was somehow navigated to.
 */
export function createSenderCheck(isOurWebContents: (id: number) => boolean, isAppUrl: (url: string) => boolean): SenderCheck {
  return (event) => {
    const frame = event.senderFrame;
    return frame !== null && frame.parent === null && isAppUrl(frame.url) && isOurWebContents(event.sender.id);
  };
}

export interface GuardedOptions {
  /** Called with every error a handler threw (for the main-process log); the page only sees the JSON. */
  readonly onError?: (channel: string, err: unknown) => void;
}

/**
 * Registers one guarded channel: sender check, then `run(payload)`; the
 * answer is always an envelope. More than one argument is refused (the
 * preload only ever sends one), so nothing can smuggle extra data past the
 * schema.
 */
export function handleGuarded(
  ipc: IpcMainLike,
  channel: string,
  isTrustedSender: SenderCheck,
  run: (payload: unknown) => Promise<unknown>,
  opts: GuardedOptions = {},
): void {
  ipc.handle(channel, async (event, ...args): Promise<LabResult<unknown>> => {
    try {
      if (!isTrustedSender(event)) throw new ApiError('E_FORBIDDEN', `${channel}: the sender is not a KV Lab window`);
      if (args.length > 1) throw new ApiError('E_INVALID', `${channel}: expected one argument, got ${args.length}`);
      return { ok: true, value: await run(args[0]) };
    } catch (err) {
      opts.onError?.(channel, err);
      return { ok: false, error: errorToJSON(err, channel) };
    }
  });
}

/**
 * Registers `lab:<method>` for every method of the contract. Returns a
 * function that removes them again (used on shutdown and by the tests).
 */
export function registerLabHandlers(ipc: IpcMainLike, handlers: LabHandlers, isTrustedSender: SenderCheck, opts: GuardedOptions = {}): () => void {
  const channels: string[] = [];
  for (const method of LAB_CALLS) {
    const channel = labChannel(method);
    const handler = handlers[method] as (input: unknown) => Promise<unknown>;
    handleGuarded(ipc, channel, isTrustedSender, (payload) => handler.call(handlers, parseInput(method as LabCall, payload)), opts);
    channels.push(channel);
  }
  return () => {
    for (const channel of channels) ipc.removeHandler(channel);
  };
}
