/**
 * The preload of every KV Lab window. It runs sandboxed, with context
 * isolation, so it can only require 'electron' (and a few builtins): it is
 * bundled with the contract by scripts/build-shell.mjs into
 * dist/electron/preload.cjs. It exposes exactly two objects:
 *   window.lab       the contract, one named function per method + onEvent
 *                    (answers are envelopes; the renderer wraps them with
 *                    labApiFromBridge from @kvlab/core to get a LabApi)
 *   window.labShell  native file dialogs and dropped-file paths
 * and nothing generic: the page cannot name an IPC channel.
 */
import { contextBridge, ipcRenderer, webUtils } from 'electron';
import { createLabBridge, createShellExtras } from './shell/bridge.ts';

contextBridge.exposeInMainWorld('lab', createLabBridge(ipcRenderer));
contextBridge.exposeInMainWorld(
  'labShell',
  createShellExtras(ipcRenderer, (file: File) => webUtils.getPathForFile(file)),
);
