/**
 * IPC channel names shared by the preload and the main process. One channel
 * per method (`lab:<method>`) rather than one generic channel: the main
 * process registers exactly the contract's methods, so nothing else can be
 * invoked, and the preload can only reach channels it was built with.
 * No electron import: both sides, and the tests, load this under plain Node.
 */
import type { LabCall } from '@kvlab/core';

export const labChannel = (method: LabCall): `lab:${LabCall}` => `lab:${method}`;

/** Main → every window: one LabEvent per message. */
export const LAB_EVENT_CHANNEL = 'lab:event';

/** Desktop-only calls behind `window.labShell`. */
export const SHELL_CHANNELS = {
  pickModelFile: 'shell:pickModelFile',
  pickModelFolder: 'shell:pickModelFolder',
} as const;
