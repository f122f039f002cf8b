import { renameSync, writeFileSync } from 'node:fs';

/** Writes a file atomically (temp + rename): a reader never sees half a run.json or settings file. */
export function writeAtomic(path: string, text: string): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}
