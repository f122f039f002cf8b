/**
 * The lab process: the child process that runs the lab service (service.ts)
 * and with it the inference engine, so that onnxruntime's blocking
 * session.run never stalls the window or the HTTP server. It is the entry
 * `child_process.fork` (serve mode, tests) and Electron's
 * `utilityProcess.fork` (the desktop app) start, and answers the messages of
 * protocol.ts through whichever channel its parent gave it — `process.send`
 * under fork, `process.parentPort` under utilityProcess.
 *
 * The module only starts serving when it is started as the lab process
 * (KVLAB_LAB_PROCESS=1 in its environment, which both spawners set), so
 * importing it elsewhere has no side effects.
 *
 * Lifecycle: Ctrl-C in a terminal reaches the whole process group, so SIGINT
 * is ignored here — the parent decides when to stop and sends "$close", which
 * cancels the running run (its folder records 'cancelled', resumable) and
 * releases the engine before the process exits. A parent that dies without
 * closing (the IPC channel disconnects) gets the same treatment.
 */
import { ApiError, dispatch } from '@kvlab/core';
import { toApiError } from './errors.ts';
import type { InitPayload, Port } from './protocol.ts';
import { CLOSE, INIT, isRequest, LAB_PROCESS_ENV } from './protocol.ts';
import type { LabService } from './service.ts';
import { createLabService } from './service.ts';

/** Electron's utilityProcess side of the channel (typed here so this module never imports electron). */
interface ParentPortLike {
  postMessage(message: unknown): void;
  on(event: 'message', listener: (e: { data: unknown }) => void): unknown;
  off(event: 'message', listener: (e: { data: unknown }) => void): unknown;
}

/** The channel to the parent: Electron's parentPort, else the fork IPC channel; null when there is none. */
export function parentPort(): Port | null {
  const pp = (process as unknown as { parentPort?: ParentPortLike }).parentPort;
  if (pp) {
    return {
      postMessage: (m) => pp.postMessage(m),
      onMessage: (listener) => {
        const h = (e: { data: unknown }) => listener(e.data);
        pp.on('message', h);
        return () => pp.off('message', h);
      },
    };
  }
  if (typeof process.send === 'function') {
    return {
      postMessage: (m) => {
        // A parent that went away mid-send is handled by 'disconnect'; never crash on the send itself.
        if (process.connected) process.send?.(m);
      },
      onMessage: (listener) => {
        process.on('message', listener);
        return () => process.off('message', listener);
      },
    };
  }
  return null;
}

/**
 * Answers requests arriving on `port` with a LabService until "$close".
 * `exit` is called after the close reply has been posted.
 */
export function serveLab(port: Port, exit: (code: number) => void): { shutdown: () => Promise<void> } {
  let service: LabService | null = null;
  let closing: Promise<void> | null = null;
  const shutdown = (): Promise<void> => (closing ??= (service?.close() ?? Promise.resolve()).catch(() => undefined));
  port.onMessage((m) => {
    if (!isRequest(m)) return;
    const { id, method, payload } = m;
    const answer = async (): Promise<unknown> => {
      if (method === INIT) {
        if (service) throw new ApiError('E_INTERNAL', 'the lab process is already initialised');
        service = createLabService({ ...(payload as InitPayload), emit: (event) => port.postMessage({ event }) });
        return null;
      }
      if (method === CLOSE) {
        await shutdown();
        return null;
      }
      if (!service) throw new ApiError('E_INTERNAL', `'${method}' before the lab process was initialised`);
      if (closing) throw new ApiError('E_CANCELLED', 'the lab process is shutting down');
      return dispatch(service, method, payload);
    };
    answer().then(
      (result) => {
        port.postMessage({ id, ok: true, result });
        if (method === CLOSE) exit(0);
      },
      (e: unknown) => port.postMessage({ id, ok: false, error: toApiError(e).toJSON() }),
    );
  });
  return { shutdown };
}

if (process.env[LAB_PROCESS_ENV] === '1') {
  const port = parentPort();
  if (!port) {
    process.stderr.write('kvlab lab process: started without a parent channel (fork or utilityProcess); exiting\n');
    process.exit(1);
  }
  // Give the flush of the last reply a moment: process.exit right after send can drop it.
  const exit = (code: number) => setTimeout(() => process.exit(code), 20);
  const { shutdown } = serveLab(port, exit);
  process.on('SIGINT', () => undefined);
  process.on('SIGTERM', () => void shutdown().then(() => exit(0)));
  process.on('disconnect', () => void shutdown().then(() => exit(0)));
}
