/**
 * Settings and app info. The theme is persisted by the host (updateSettings),
 * so Electron and serve mode remember it across restarts; the store applies
 * the change optimistically and rolls back if the call fails.
 */
import type { AppInfo, Settings } from '@kvlab/core';
import type { SliceCreator } from './types.ts';

export interface SettingsSlice {
  readonly settings: Settings | null;
  readonly appInfo: AppInfo | null;
  loadSettings(): Promise<void>;
  setTheme(theme: Settings['theme']): Promise<void>;
}

export const createSettingsSlice: SliceCreator<SettingsSlice> = (set, get, api) => ({
  settings: null,
  appInfo: null,
  loadSettings: async () => {
    try {
      const [settings, appInfo] = await Promise.all([api.getSettings({}), api.getAppInfo({})]);
      set({ settings, appInfo });
    } catch (e) {
      get().reportError(e, 'loading settings');
    }
  },
  setTheme: async (theme) => {
    const before = get().settings;
    if (before) set({ settings: { ...before, theme } });
    try {
      set({ settings: await api.updateSettings({ theme }) });
    } catch (e) {
      set({ settings: before });
      get().reportError(e, 'saving the theme');
    }
  },
});

/** The theme to paint: 'system' follows the OS preference. */
export function resolveTheme(theme: Settings['theme'] | undefined, prefersDark: boolean): 'light' | 'dark' {
  if (theme === 'light' || theme === 'dark') return theme;
  return prefersDark ? 'dark' : 'light';
}
