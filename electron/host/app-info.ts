/**
 * getAppInfo (version, mode, execution providers and which one is in use,
 * the default model, the results folder) and describeMethods (core's method
 * catalogue): what the lab is and can do.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AppInfo, LabHandlers } from '@kvlab/core';
import { describeMethods } from '@kvlab/core';
import type { EngineSession } from './engine-session.ts';
import { executionProviders } from './execution-providers.ts';
import { APP_ROOT } from './paths.ts';
import type { SettingsStore } from './settings.ts';

function readVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(join(APP_ROOT, 'package.json'), 'utf8')) as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : '0.0.0';
  } catch {
    return '0.0.0';
  }
}

export interface AppInfoOptions {
  readonly settings: SettingsStore;
  readonly session: EngineSession;
  readonly mode: AppInfo['mode'];
  readonly defaultModelId: string | null;
  readonly resultsDir: string;
}

export function appInfoHandlers(opts: AppInfoOptions): Pick<LabHandlers, 'getAppInfo' | 'describeMethods'> {
  const version = readVersion();
  return {
    getAppInfo: () => Promise.resolve(appInfo(opts, version)),
    describeMethods: () => Promise.resolve(describeMethods()),
  };
}

function appInfo(opts: AppInfoOptions, version: string): AppInfo {
  const eps = executionProviders();
  const requested = opts.settings.current.executionProvider;
  const info = opts.session.engineInfo;
  const fallbackReason = opts.session.fallbackReason;
  // Before a model is loaded, 'auto' is not resolved yet (that needs the WebGPU probe): say so.
  const inUse = info?.executionProvider ?? (requested === 'auto' ? 'auto' : eps.find((e) => e.id === requested)?.available ? requested : 'cpu');
  return {
    version,
    mode: opts.mode,
    executionProvider: inUse,
    executionProviders: eps.map((e) => (e.id === requested && fallbackReason && !e.reason ? { ...e, available: false, reason: fallbackReason } : e)),
    ...(info ? { executionProviderReason: info.providerReason } : {}),
    ...(info?.adapter ? { adapter: info.adapter } : {}),
    defaultModelId: opts.defaultModelId,
    resultsDir: opts.resultsDir,
  };
}
