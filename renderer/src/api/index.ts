/**
 * Picks the LabApi the renderer talks to — the only place that knows there
 * is more than one:
 *   - the Electron preload bridge (`window.lab`, envelopes turned back into
 *     ApiError rejections by core's `labApiFromBridge`) when present;
 *   - the in-memory fake when the URL has `?fake` (UI work without an engine;
 *     loaded lazily so it costs the normal bundle nothing);
 *   - otherwise the HTTP + SSE client of serve mode.
 * Everything else receives the chosen LabApi as a value (store, screens), so
 * tests pass the fake directly. `window.lab` / `window.labShell` are declared
 * in window-lab.d.ts (owned by the shell).
 */
import type { LabApi, ShellExtras } from '@kvlab/core';
import { labApiFromBridge } from '@kvlab/core';
import { createHttpClient } from './http-client.ts';

export async function resolveApi(win: Window = window): Promise<LabApi> {
  if (win.lab) return labApiFromBridge(win.lab);
  if (new URLSearchParams(win.location.search).has('fake')) {
    const { createFakeLab, FAKE_SMALL_EXPERIMENT } = await import('./fake.ts');
    return createFakeLab({ seedRuns: [{ name: FAKE_SMALL_EXPERIMENT.name, experiment: FAKE_SMALL_EXPERIMENT }] });
  }
  return createHttpClient();
}

/** The desktop-only helpers (file dialogs, dropped files' paths), or null in a browser. */
export function shellExtras(win: Window = window): ShellExtras<File> | null {
  return win.labShell ?? null;
}
