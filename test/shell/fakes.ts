/**
 * Stand-ins for ipcMain / ipcRenderer that behave like Electron's where it
 * matters to the bridge: one handler per channel (a second handle() throws),
 * arguments and answers cross by structured clone (class instances arrive as
 * plain objects, functions do not cross at all), and the invoke event names
 * the sender's webContents id and frame.
 */
import type { InvokeEventLike, IpcMainLike } from '../../electron/shell/ipc.ts';
import type { IpcRendererLike } from '../../electron/shell/bridge.ts';

type Handler = (event: InvokeEventLike, ...args: unknown[]) => Promise<unknown>;

export class FakeIpcMain implements IpcMainLike {
  readonly handlers = new Map<string, Handler>();
  handle(channel: string, listener: Handler): void {
    if (this.handlers.has(channel)) throw new Error(`Attempted to register a second handler for '${channel}'`);
    this.handlers.set(channel, listener);
  }
  removeHandler(channel: string): void {
    this.handlers.delete(channel);
  }
  /** What ipcRenderer.invoke does: clone the args, run the handler, clone the answer (Electron rejects when there is no handler). */
  async invoke(event: InvokeEventLike, channel: string, ...args: unknown[]): Promise<unknown> {
    const h = this.handlers.get(channel);
    if (!h) throw new Error(`Error invoking remote method '${channel}': Error: No handler registered for '${channel}'`);
    return structuredClone(await h(event, ...structuredClone(args)));
  }
}

export const OUR_WEBCONTENTS_ID = 7;
export const appFrameEvent = (url = 'app://kvlab/index.html', id = OUR_WEBCONTENTS_ID): InvokeEventLike => ({
  sender: { id },
  senderFrame: { url, parent: null },
});

type Listener = (event: unknown, ...args: unknown[]) => void;

/** An ipcRenderer wired to a FakeIpcMain, as one window would see it. */
export class FakeIpcRenderer implements IpcRendererLike {
  readonly listeners = new Map<string, Set<Listener>>();
  readonly invoked: { channel: string; args: unknown[] }[] = [];
  constructor(
    private readonly main: FakeIpcMain,
    private readonly event: InvokeEventLike = appFrameEvent(),
  ) {}
  invoke(channel: string, ...args: unknown[]): Promise<unknown> {
    this.invoked.push({ channel, args });
    return this.main.invoke(this.event, channel, ...args);
  }
  on(channel: string, listener: Listener): this {
    let set = this.listeners.get(channel);
    if (!set) this.listeners.set(channel, (set = new Set()));
    set.add(listener);
    return this;
  }
  removeListener(channel: string, listener: Listener): this {
    this.listeners.get(channel)?.delete(listener);
    return this;
  }
  /** What webContents.send does on the main side. */
  emit(channel: string, payload: unknown): void {
    const fakeIpcRendererEvent = { sender: this, senderId: 0 };
    for (const l of this.listeners.get(channel) ?? []) l(fakeIpcRendererEvent, structuredClone(payload));
  }
}
