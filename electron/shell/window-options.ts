/**
 * The main window's options, as pure data so the tests can check every
 * security flag without Electron. Type-only electron import: the compiler
 * checks these against electron's own WebPreferences.
 */
import type { BrowserWindowConstructorOptions, WebPreferences } from 'electron';

/** The size the UI is designed for (and tested at). */
export const DESIGN_SIZE = { width: 1280, height: 800 } as const;

/**
 * The renderer gets no Node, no remote content and no way around the
 * isolation: contextIsolation + sandbox + no nodeIntegration anywhere,
 * webSecurity on, no <webview>, no insecure content, no drag-to-navigate
 * (dropping a file must not replace the app with the file).
 */
export function secureWebPreferences(preloadPath: string, devTools: boolean): WebPreferences {
  return {
    preload: preloadPath,
    contextIsolation: true,
    sandbox: true,
    nodeIntegration: false,
    nodeIntegrationInWorker: false,
    nodeIntegrationInSubFrames: false,
    webSecurity: true,
    allowRunningInsecureContent: false,
    webviewTag: false,
    navigateOnDragDrop: false,
    experimentalFeatures: false,
    safeDialogs: true,
    spellcheck: false,
    devTools,
  };
}

/**
 * 1280×800 and never smaller, unless the screen itself is smaller (a
 * 1366×768 laptop): then the work area is both the size and the minimum,
 * so the window still fits.
 */
export function mainWindowOptions(
  preloadPath: string,
  workArea: { readonly width: number; readonly height: number },
  opts: { readonly devTools: boolean; readonly dark: boolean },
): BrowserWindowConstructorOptions {
  const width = Math.min(DESIGN_SIZE.width, workArea.width);
  const height = Math.min(DESIGN_SIZE.height, workArea.height);
  return {
    width,
    height,
    minWidth: width,
    minHeight: height,
    title: 'KV Lab',
    show: false,
    // Matches the theme's page background, so the first frame does not flash the other colour.
    backgroundColor: opts.dark ? '#111318' : '#ffffff',
    autoHideMenuBar: true,
    webPreferences: secureWebPreferences(preloadPath, opts.devTools),
  };
}
