/**
 * A stand-in for the 'electron' module, just large enough to run the bundled
 * main process (dist/electron/main.mjs) under plain Node: the Electron binary
 * cannot be downloaded on these machines, so this is how the shell's start-up
 * sequence, its IPC wiring and its navigation hooks are exercised at all.
 * It records what main.mjs asks of Electron; test/shell/build.test.ts maps the
 * 'electron' import here with a module resolve hook.
 *
 * It models only what the shell uses, with Electron's documented behaviour
 * where that matters: before-quit can be prevented, every new webContents
 * fires app 'web-contents-created', ipcMain refuses a second handler per
 * channel. It cannot tell whether the real Chromium honours our options.
 */
import { EventEmitter } from 'node:events';

type AnyFn = (...args: never[]) => unknown;

export class FakeWebContents extends EventEmitter {
  static nextId = 1;
  readonly id = FakeWebContents.nextId++;
  readonly sent: [string, unknown][] = [];
  windowOpenHandler: ((details: { url: string }) => { action: string }) | null = null;
  destroyed = false;
  send(channel: string, payload: unknown): void {
    this.sent.push([channel, structuredClone(payload)]);
  }
  isDestroyed(): boolean {
    return this.destroyed;
  }
  setWindowOpenHandler(h: (details: { url: string }) => { action: string }): void {
    this.windowOpenHandler = h;
  }
}

export class BrowserWindow extends EventEmitter {
  static readonly all: BrowserWindow[] = [];
  static getAllWindows(): BrowserWindow[] {
    return BrowserWindow.all.filter((w) => !w.closed);
  }
  static getFocusedWindow(): BrowserWindow | null {
    return null;
  }
  readonly webContents = new FakeWebContents();
  readonly loaded: string[] = [];
  closed = false;
  shown = false;
  focused = 0;
  constructor(readonly options: Record<string, unknown>) {
    super();
    BrowserWindow.all.push(this);
    state.calls.push('new BrowserWindow');
    app.emit('web-contents-created', { preventDefault: () => undefined }, this.webContents);
  }
  loadURL(url: string): Promise<void> {
    this.loaded.push(url);
    return Promise.resolve();
  }
  show(): void {
    this.shown = true;
  }
  isMinimized(): boolean {
    return false;
  }
  restore(): void {}
  focus(): void {
    this.focused++;
  }
  close(): void {
    this.closed = true;
    this.webContents.destroyed = true;
    this.emit('closed');
  }
}

class FakeApp extends EventEmitter {
  isPackaged = false;
  ready = false;
  quitted = false;
  exitCode: number | null = null;
  enableSandbox(): void {
    state.calls.push('app.enableSandbox');
  }
  requestSingleInstanceLock(): boolean {
    state.calls.push('app.requestSingleInstanceLock');
    return true;
  }
  whenReady(): Promise<void> {
    state.calls.push('app.whenReady');
    return Promise.resolve().then(() => {
      this.ready = true;
      state.calls.push('ready');
    });
  }
  isReady(): boolean {
    return this.ready;
  }
  /** Like Electron: 'before-quit' first; a listener that prevents it cancels this quit. */
  quit(): void {
    let prevented = false;
    this.emit('before-quit', {
      preventDefault: () => {
        prevented = true;
      },
    });
    if (!prevented) this.quitted = true;
  }
  exit(code: number): void {
    this.exitCode = code;
  }
}

export const app = new FakeApp();

export const state = {
  calls: [] as string[],
  schemes: [] as unknown[],
  protocolHandlers: new Map<string, AnyFn>(),
  ipcHandlers: new Map<string, (event: unknown, ...args: unknown[]) => Promise<unknown>>(),
  onHeadersReceived: null as AnyFn | null,
  onBeforeRequest: null as AnyFn | null,
  permissionRequest: null as AnyFn | null,
  permissionCheck: null as AnyFn | null,
  opened: [] as string[],
  dialogs: [] as unknown[][],
  errors: [] as string[],
  /** The test sets this: what utilityProcess.fork does. */
  fork: null as ((path: string, args: string[], opts: Record<string, unknown>) => unknown) | null,
};

export const ipcMain = {
  handle(channel: string, fn: (event: unknown, ...args: unknown[]) => Promise<unknown>): void {
    if (state.ipcHandlers.has(channel)) throw new Error(`Attempted to register a second handler for '${channel}'`);
    state.ipcHandlers.set(channel, fn);
  },
  removeHandler(channel: string): void {
    state.ipcHandlers.delete(channel);
  },
};

export const protocol = {
  registerSchemesAsPrivileged(schemes: unknown[]): void {
    if (app.ready) throw new Error('registerSchemesAsPrivileged after ready');
    state.calls.push('protocol.registerSchemesAsPrivileged');
    state.schemes.push(...schemes);
  },
};

export const session = {
  defaultSession: {
    protocol: {
      handle(scheme: string, fn: AnyFn): void {
        state.calls.push(`session.protocol.handle(${scheme})`);
        state.protocolHandlers.set(scheme, fn);
      },
    },
    webRequest: {
      onHeadersReceived(fn: AnyFn): void {
        state.onHeadersReceived = fn;
      },
      onBeforeRequest(fn: AnyFn): void {
        state.onBeforeRequest = fn;
      },
    },
    setPermissionRequestHandler(fn: AnyFn): void {
      state.permissionRequest = fn;
    },
    setPermissionCheckHandler(fn: AnyFn): void {
      state.permissionCheck = fn;
    },
  },
};

export const screen = { getPrimaryDisplay: () => ({ workAreaSize: { width: 1920, height: 1080 } }) };
export const nativeTheme = { shouldUseDarkColors: false };
export const shell = {
  openExternal(url: string): Promise<void> {
    state.opened.push(url);
    return Promise.resolve();
  },
};
export const dialog = {
  showOpenDialog(...args: unknown[]): Promise<{ canceled: boolean; filePaths: string[] }> {
    state.dialogs.push(args);
    return Promise.resolve({ canceled: false, filePaths: ['/picked/model.gguf'] });
  },
  showErrorBox(title: string, message: string): void {
    state.errors.push(`${title}: ${message}`);
  },
};
export const utilityProcess = {
  fork(path: string, args: string[], opts: Record<string, unknown>): unknown {
    if (!state.fork) throw new Error('the test did not set state.fork');
    return state.fork(path, args, opts);
  },
};
