/**
 * What the Electron preload (electron/preload.ts) puts on `window`. Both are
 * absent in serve mode (a plain browser), hence optional. `window.lab`
 * answers envelopes, because Electron's bridge drops an error's code; get a
 * LabApi with `labApiFromBridge(window.lab)` from @kvlab/core.
 */
import type { LabBridge, ShellExtras } from '@kvlab/core';

declare global {
  interface Window {
    readonly lab?: LabBridge;
    readonly labShell?: ShellExtras<File>;
  }
}
