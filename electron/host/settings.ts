/**
 * The lab's settings: the defaults, overridden by the options the service was
 * started with, overridden by the settings file when there is one (kvlab serve
 * and the app keep it across restarts). getSettings / updateSettings live
 * here; a change to what an engine is built with drops the open engine, so
 * the next call opens one with the new settings.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { LabHandlers, LabParsedInput, Settings } from '@kvlab/core';
import { settingsInput } from '@kvlab/core';
import type { EngineSession } from './engine-session.ts';
import { writeAtomic } from './write-atomic.ts';

// 'auto': CUDA if installed, else a hardware WebGPU adapter, else the CPU (engine/providers.ts).
export const DEFAULT_SETTINGS: Settings = { theme: 'system', executionProvider: 'auto', threads: 0, floatWeights: 'auto', kvType: 'f32' };

export interface SettingsStoreOptions {
  /** Over the defaults; the file, when present, wins. */
  readonly initial?: Partial<Settings> | undefined;
  /** Where settings persist; without it they live in memory. */
  readonly file?: string | undefined;
}

/** The saved settings; a missing or unreadable file is no settings (the defaults apply), never an error. */
function readSettingsFile(f: string | undefined): Partial<Settings> {
  if (!f || !existsSync(f)) return {};
  try {
    const r = settingsInput.safeParse(JSON.parse(readFileSync(f, 'utf8')));
    if (r.success) return Object.fromEntries(Object.entries(r.data).filter(([, v]) => v !== undefined)) as Partial<Settings>;
    process.stderr.write(`kvlab: ignoring ${f}: ${r.error.issues[0]?.message ?? 'invalid'}\n`);
  } catch (e) {
    process.stderr.write(`kvlab: ignoring ${f}: ${(e as Error).message}\n`);
  }
  return {};
}

/** Whether two settings would build different engines (the theme does not). */
function engineSettingsDiffer(a: Settings, b: Settings): boolean {
  return (
    a.executionProvider !== b.executionProvider ||
    a.threads !== b.threads ||
    (a.floatWeights ?? 'auto') !== (b.floatWeights ?? 'auto') ||
    (a.kvType ?? 'f32') !== (b.kvType ?? 'f32')
  );
}

export class SettingsStore {
  private settings: Settings;

  constructor(private readonly opts: SettingsStoreOptions) {
    this.settings = { ...DEFAULT_SETTINGS, ...opts.initial, ...readSettingsFile(opts.file) };
  }

  get current(): Settings {
    return this.settings;
  }

  /** Applies a partial update, saves it, and says whether an engine built before is now out of date. */
  update(input: LabParsedInput<'updateSettings'>): { readonly settings: Settings; readonly engineChanged: boolean } {
    const prev = this.settings;
    const next: Settings = {
      theme: input.theme ?? prev.theme,
      executionProvider: input.executionProvider ?? prev.executionProvider,
      threads: input.threads ?? prev.threads,
      floatWeights: input.floatWeights ?? prev.floatWeights ?? 'auto',
      kvType: input.kvType ?? prev.kvType ?? 'f32',
    };
    this.settings = next;
    if (this.opts.file) {
      mkdirSync(dirname(this.opts.file), { recursive: true });
      writeAtomic(this.opts.file, `${JSON.stringify(next, null, 2)}\n`);
    }
    return { settings: next, engineChanged: engineSettingsDiffer(prev, next) };
  }
}

export function settingsHandlers(deps: {
  readonly store: SettingsStore;
  readonly session: EngineSession;
}): Pick<LabHandlers, 'getSettings' | 'updateSettings'> {
  const { store, session } = deps;
  return {
    getSettings: () => Promise.resolve({ ...store.current }),
    updateSettings: async (input) => {
      const { settings, engineChanged } = store.update(input);
      // A new provider, thread count, weight or cache type takes effect at the next load: drop the open engine.
      if (engineChanged) await session.reset();
      return { ...settings };
    },
  };
}
