/**
 * The app shell: a left sidebar (every screen, the theme switch, what the
 * engine runs on) and the current screen. The screen is mirrored in the URL
 * hash (#/runs) so reloads and links land on it and the browser's back button
 * works; every nav entry has data-testid="nav-<screen>" for the e2e tests.
 * Every screen takes no props and reads the store through useLab
 * (docs/adding-a-screen.md).
 */
import { useEffect, useRef, useState } from 'react';
import type { LabApi } from '@kvlab/core';
import { Notices } from './components/Notices.tsx';
import { BuilderScreen } from './screens/Builder.tsx';
import { CompareScreen } from './screens/Compare.tsx';
import { LayerProfileScreen } from './screens/LayerProfile.tsx';
import { ModelsScreen } from './screens/Models.tsx';
import { PlaygroundScreen } from './screens/Playground.tsx';
import { ReportsScreen } from './screens/Reports.tsx';
import { RunsScreen } from './screens/Runs.tsx';
import { initLabStore, LabProvider, useLab, useLabStore, type LabStore } from './store/index.ts';
import { resolveTheme } from './store/settings.ts';
import { isScreenId, SCREENS, type ScreenId } from './store/ui.ts';
import { useScrollReset } from './util/use-scroll-reset.ts';

/** Store + API provider, the event subscription and the initial loads. Tests render <App> inside their own provider instead. */
export function Root({ api, store }: { api: LabApi; store: LabStore }) {
  useEffect(() => {
    const unsubscribe = store.getState().subscribe();
    void initLabStore(store);
    return unsubscribe;
  }, [store]);
  return (
    <LabProvider store={store} api={api}>
      <App />
    </LabProvider>
  );
}

export function App() {
  const screen = useLab((s) => s.screen);
  const main = useRef<HTMLElement>(null);
  useThemeAttribute();
  useHashRoute();
  useScrollReset(main, screen);
  return (
    <div className="app">
      <Sidebar />
      <main ref={main} className="main" data-testid="main" data-screen={screen}>
        <Notices />
        <Screen id={screen} />
      </main>
    </div>
  );
}

function Screen({ id }: { id: ScreenId }) {
  switch (id) {
    case 'models':
      return <ModelsScreen />;
    case 'playground':
      return <PlaygroundScreen />;
    case 'profile':
      return <LayerProfileScreen />;
    case 'builder':
      return <BuilderScreen />;
    case 'runs':
      return <RunsScreen />;
    case 'compare':
      return <CompareScreen />;
    case 'reports':
      return <ReportsScreen />;
  }
}

function Sidebar() {
  const screen = useLab((s) => s.screen);
  const navigate = useLab((s) => s.navigate);
  const active = useLab((s) => s.runs.filter((r) => r.status === 'running' || r.status === 'queued').length);
  const settings = useLab((s) => s.settings);
  const appInfo = useLab((s) => s.appInfo);
  const setTheme = useLab((s) => s.setTheme);
  return (
    <nav className="sidebar" aria-label="Screens" data-testid="sidebar">
      <div className="brand">
        KV<span>Lab</span>
      </div>
      <ul>
        {SCREENS.map((s) => (
          <li key={s.id}>
            <button
              type="button"
              className={`nav-item ${screen === s.id ? 'active' : ''}`}
              aria-current={screen === s.id ? 'page' : undefined}
              data-testid={`nav-${s.id}`}
              onClick={() => navigate(s.id)}
            >
              {s.label}
              {s.id === 'runs' && active > 0 ? (
                <span className="nav-count" data-testid="nav-runs-active" title={`${active} queued or running`}>
                  {active}
                </span>
              ) : null}
            </button>
          </li>
        ))}
      </ul>
      <div className="sidebar-foot">
        <label className="small">
          Theme{' '}
          <select value={settings?.theme ?? 'system'} onChange={(e) => void setTheme(e.target.value as 'system' | 'light' | 'dark')} data-testid="theme-select">
            <option value="system">System</option>
            <option value="light">Light</option>
            <option value="dark">Dark</option>
          </select>
        </label>
        {appInfo ? (
          <p className="muted small" data-testid="app-info">
            v{appInfo.version} · {appInfo.mode} · {appInfo.executionProvider}
          </p>
        ) : null}
      </div>
    </nav>
  );
}

/** Paints the theme: data-theme="light|dark" on <html>, following the OS while the setting is 'system'. */
function useThemeAttribute(): void {
  const theme = useLab((s) => s.settings?.theme);
  const [prefersDark, setPrefersDark] = useState(() => typeof matchMedia === 'function' && matchMedia('(prefers-color-scheme: dark)').matches);
  useEffect(() => {
    if (typeof matchMedia !== 'function') return;
    const mq = matchMedia('(prefers-color-scheme: dark)');
    const on = (e: MediaQueryListEvent) => setPrefersDark(e.matches);
    mq.addEventListener('change', on);
    return () => mq.removeEventListener('change', on);
  }, []);
  const resolved = resolveTheme(theme, prefersDark);
  useEffect(() => {
    document.documentElement.dataset['theme'] = resolved;
  }, [resolved]);
}

/** Keeps #/<screen> and the store's screen in step, both ways. */
function useHashRoute(): void {
  const store = useLabStore();
  useEffect(() => {
    const fromHash = () => {
      const id = location.hash.replace(/^#\/?/, '');
      if (isScreenId(id) && id !== store.getState().screen) store.getState().navigate(id);
    };
    fromHash();
    // No screen in the address yet: name the current one without adding a history entry.
    if (!isScreenId(location.hash.replace(/^#\/?/, ''))) history.replaceState(history.state, '', `#/${store.getState().screen}`);
    window.addEventListener('hashchange', fromHash);
    const unsub = store.subscribe((s, prev) => {
      if (s.screen !== prev.screen && location.hash !== `#/${s.screen}`) location.hash = `/${s.screen}`;
    });
    return () => {
      window.removeEventListener('hashchange', fromHash);
      unsub();
    };
  }, [store]);
}
