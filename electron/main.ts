/**
 * The Electron main process: a thin shell around the same lab host that
 * serve mode uses. It owns windows and security policy, nothing else:
 *
 *   - one instance (a second launch focuses the first window);
 *   - pages come from the built renderer on the privileged origin app://kvlab
 *     (shell/app-protocol.ts), each response carrying our CSP (shell/csp.ts);
 *   - windows are sandboxed and context-isolated with no Node
 *     (shell/window-options.ts); every webContents may only navigate within
 *     app://kvlab, window.open is always denied, plain http(s) links go to
 *     the system browser (shell/navigation.ts); permissions are refused and
 *     requests to anything but our origin cancelled (shell/permissions.ts);
 *   - the lab process (the lab service with its engine) runs in a
 *     utilityProcess (shell/lab-process.ts + host/lab-process-client.ts), so
 *     inference never blocks this process;
 *   - ipcMain answers exactly the contract's methods, each checking that the
 *     sender is our window and validating the payload (shell/ipc.ts), plus
 *     two file dialogs; the lab's events go to every window on 'lab:event';
 *   - a .gguf the OS asks us to open (file associations, shell/open-files.ts)
 *     is added to the models through the lab process.
 *
 * Bundled by scripts/build-shell.mjs into dist/electron/main.mjs (package.json
 * "main"); it never runs under plain Node, and it cannot run on the offline
 * build machines (no Electron binary): it is type-checked against electron's
 * typings, and its logic lives in the shell/ modules the tests exercise.
 */
import { join } from 'node:path';
import { app, BrowserWindow, dialog, ipcMain, nativeTheme, protocol, screen, session, shell, utilityProcess } from 'electron';
import type { Event as ElectronEvent, OpenDialogOptions, WebContents } from 'electron';
import type { LabEvent } from '@kvlab/core';
import { ApiError, modelFileDialogFilter } from '@kvlab/core';
import { findDefaultModel } from './host/default-model.ts';
import { createLabProcessClient, LAB_PROCESS_ENV } from './host/lab-process-client.ts';
import type { LabProcessClient } from './host/lab-process-client.ts';
import { APP_ROOT, defaultResultsDir, RENDERER_DIST } from './host/paths.ts';
import { createAppProtocolHandler } from './shell/app-protocol.ts';
import { LAB_EVENT_CHANNEL, SHELL_CHANNELS } from './shell/channels.ts';
import { contentSecurityPolicy, withCspHeader } from './shell/csp.ts';
import { utilitySpawner } from './shell/lab-process.ts';
import { createSenderCheck, handleGuarded, registerLabHandlers } from './shell/ipc.ts';
import { filesFromArgv, isOpenableFile } from './shell/open-files.ts';
import { APP_ENTRY_URL, APP_SCHEME, decideNavigation, decideWindowOpen, isAppUrl } from './shell/navigation.ts';
import { isPermissionAllowed, shouldBlockRequest } from './shell/permissions.ts';
import { mainWindowOptions } from './shell/window-options.ts';

const CSP = contentSecurityPolicy();

// Must happen before 'ready': a standard, secure scheme gets a real origin (so CSP 'self' and the sender check mean "our pages").
// corsEnabled stays unset on purpose: it would let other origins read app:// responses; our own pages are same-origin.
protocol.registerSchemesAsPrivileged([{ scheme: APP_SCHEME, privileges: { standard: true, secure: true, supportFetchAPI: true, codeCache: true } }]);
// Every renderer sandboxed, whatever a future window forgets to set.
app.enableSandbox();

/** The webContents ids of our windows: the first half of the sender check. */
const ourWebContents = new Set<number>();
let mainWindow: BrowserWindow | null = null;
/** The lab process's client, once started. */
let lab: LabProcessClient | null = null;

/** Navigation policy for every webContents the app ever creates (windows, devtools, anything a bug might open). */
function hardenWebContents(contents: WebContents): void {
  const guard = (e: ElectronEvent<{ url: string }>): void => {
    const d = decideNavigation(e.url);
    if (d.allow) return;
    e.preventDefault();
    if (d.external !== null) void shell.openExternal(d.external);
  };
  contents.on('will-navigate', guard);
  contents.on('will-frame-navigate', guard);
  contents.on('will-redirect', guard);
  contents.on('will-attach-webview', (e) => e.preventDefault());
  contents.setWindowOpenHandler(({ url }) => {
    const d = decideWindowOpen(url);
    if (d.external !== null) void shell.openExternal(d.external);
    return { action: d.action };
  });
}

function broadcast(e: LabEvent): void {
  for (const win of BrowserWindow.getAllWindows()) {
    const wc = win.webContents;
    if (!wc.isDestroyed() && ourWebContents.has(wc.id)) wc.send(LAB_EVENT_CHANNEL, e);
  }
}

function createMainWindow(): BrowserWindow {
  const preload = join(APP_ROOT, 'dist', 'electron', 'preload.cjs');
  const win = new BrowserWindow(
    mainWindowOptions(preload, screen.getPrimaryDisplay().workAreaSize, { devTools: !app.isPackaged, dark: nativeTheme.shouldUseDarkColors }),
  );
  const id = win.webContents.id;
  ourWebContents.add(id);
  win.on('closed', () => {
    ourWebContents.delete(id);
    if (mainWindow === win) mainWindow = null;
  });
  win.once('ready-to-show', () => win.show());
  void win.loadURL(APP_ENTRY_URL);
  return win;
}

async function pickPath(kind: 'file' | 'folder'): Promise<string | null> {
  const options: OpenDialogOptions =
    kind === 'file'
      ? {
          title: 'Open a model file',
          properties: ['openFile'],
          filters: [modelFileDialogFilter(), { name: 'All files', extensions: ['*'] }],
        }
      : { title: 'Open a Hugging Face model folder', properties: ['openDirectory'] };
  const parent = BrowserWindow.getFocusedWindow() ?? mainWindow;
  const r = parent ? await dialog.showOpenDialog(parent, options) : await dialog.showOpenDialog(options);
  return r.canceled ? null : (r.filePaths[0] ?? null);
}

/** Files the OS asked us to open before the lab process was up (macOS sends 'open-file' early). */
const pendingFiles: string[] = [];

/** Adds each model file to the lab's model list (the Models screen updates on 'models.changed') and brings the window forward. */
function openFiles(paths: readonly string[]): void {
  if (paths.length === 0) return;
  if (lab === null) {
    pendingFiles.push(...paths);
    return;
  }
  for (const path of paths)
    lab.openModel({ path }).then(
      () => mainWindow?.focus(),
      (err: unknown) => dialog.showErrorBox('KV Lab could not open the file', err instanceof Error ? err.message : String(err)),
    );
}

async function start(): Promise<void> {
  await app.whenReady();
  const ses = session.defaultSession;

  ses.protocol.handle(APP_SCHEME, createAppProtocolHandler({ root: RENDERER_DIST, csp: CSP }));
  // The protocol handler sets the CSP already; this covers any response that does not come from it.
  ses.webRequest.onHeadersReceived((details, callback) => callback({ responseHeaders: withCspHeader(details.responseHeaders, CSP) }));
  ses.webRequest.onBeforeRequest((details, callback) => callback({ cancel: shouldBlockRequest(details.url) }));
  ses.setPermissionRequestHandler((_wc, permission, callback, details) => callback(isPermissionAllowed(permission, details.requestingUrl)));
  ses.setPermissionCheckHandler((_wc, permission, requestingOrigin) => isPermissionAllowed(permission, requestingOrigin));

  const client = createLabProcessClient({
    // The same results folder as `kvlab serve` and the CLI, so every front end sees the same runs.
    init: { resultsDir: defaultResultsDir(), defaultModel: findDefaultModel(), mode: 'electron', baseDir: APP_ROOT },
    spawn: utilitySpawner(utilityProcess.fork, {
      entry: join(APP_ROOT, 'dist', 'electron', 'lab-process.mjs'),
      env: { ...process.env, [LAB_PROCESS_ENV]: '1' },
    }),
  });
  lab = client;
  client.onEvent(broadcast);

  const trusted = createSenderCheck((id) => ourWebContents.has(id), isAppUrl);
  // Expected refusals (bad sender, bad payload, no such run) get one line; anything else its stack, for the developer.
  const onError = (channel: string, err: unknown): void =>
    err instanceof ApiError && err.code !== 'E_INTERNAL'
      ? console.warn(`[kvlab] ${channel}: ${err.code} ${err.message}`)
      : console.error(`[kvlab] ${channel}:`, err);
  registerLabHandlers(ipcMain, client, trusted, { onError });
  handleGuarded(ipcMain, SHELL_CHANNELS.pickModelFile, trusted, () => pickPath('file'), { onError });
  handleGuarded(ipcMain, SHELL_CHANNELS.pickModelFolder, trusted, () => pickPath('folder'), { onError });

  mainWindow = createMainWindow();
  openFiles([...pendingFiles.splice(0), ...filesFromArgv(process.argv, { cwd: process.cwd(), defaultApp: process.defaultApp === true })]);
}

if (!app.requestSingleInstanceLock()) {
  app.quit();
} else {
  app.on('second-instance', (_e, argv: string[] | undefined, workingDirectory: string | undefined) => {
    openFiles(filesFromArgv(argv, { cwd: workingDirectory ?? process.cwd(), defaultApp: process.defaultApp === true }));
    if (mainWindow === null) {
      if (app.isReady()) mainWindow = createMainWindow();
      return;
    }
    if (mainWindow.isMinimized()) mainWindow.restore();
    mainWindow.focus();
  });
  app.on('open-file', (e, path) => {
    e.preventDefault();
    if (isOpenableFile(path)) openFiles([path]);
  });
  app.on('web-contents-created', (_e, contents) => hardenWebContents(contents));
  app.on('window-all-closed', () => {
    if (process.platform !== 'darwin') app.quit();
  });
  app.on('activate', () => {
    if (app.isReady() && BrowserWindow.getAllWindows().length === 0) mainWindow = createMainWindow();
  });
  // Stop the lab process before quitting: the run in flight is cancelled and recorded (resumable), not cut off mid-write.
  let labClosed = false;
  app.on('before-quit', (e) => {
    if (labClosed || lab === null) return;
    e.preventDefault();
    labClosed = true;
    void lab.close().finally(() => app.quit());
  });
  start().catch((err: unknown) => {
    console.error('[kvlab] could not start:', err);
    dialog.showErrorBox('KV Lab could not start', err instanceof Error ? err.message : String(err));
    app.exit(1);
  });
}
