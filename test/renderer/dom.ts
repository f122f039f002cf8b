/**
 * A jsdom window as the global environment for the renderer's component
 * tests (node:test has no DOM). Import it FIRST in a test file — before React,
 * react-dom and @testing-library/react, which look at `window` / `document`
 * when they load. Each test file runs in its own process, so these globals
 * never leak into the Node-side tests.
 *
 * What jsdom lacks and the app touches: matchMedia (the theme follows the OS),
 * ResizeObserver (a no-op: there is no layout; VirtualList falls back to its
 * `height` prop). jsdom's "Not implemented:
 * navigation" message (an <a download> click) is dropped; other jsdom errors
 * still print.
 */
import { JSDOM, VirtualConsole } from 'jsdom';

const virtualConsole = new VirtualConsole();
virtualConsole.on('jsdomError', (e) => {
  if (!/Not implemented: navigation/.test(e.message)) console.error(e);
});
for (const level of ['log', 'warn', 'error'] as const) virtualConsole.on(level, (...args: unknown[]) => console[level](...args));

export const dom = new JSDOM('<!doctype html><html><head></head><body></body></html>', { url: 'http://127.0.0.1/', pretendToBeVisual: true, virtualConsole });
const win = dom.window as unknown as Record<string, unknown>;
const g = globalThis as unknown as Record<string, unknown>;

// The DOM's own versions must win where Node has one too (Event, navigator…), so instanceof checks see jsdom's objects.
const OVERRIDE = [
  'window',
  'document',
  'navigator',
  'location',
  'history',
  'Event',
  'EventTarget',
  'CustomEvent',
  'KeyboardEvent',
  'MouseEvent',
  'FocusEvent',
  'InputEvent',
  'UIEvent',
];
for (const key of OVERRIDE) Object.defineProperty(g, key, { value: win[key], configurable: true, writable: true });
// Everything else jsdom has and Node lacks (HTMLElement, MutationObserver, getComputedStyle, requestAnimationFrame, sessionStorage…).
// Node's Blob / URL / fetch stay: URL.createObjectURL only accepts Node's Blob.
for (const key of Object.getOwnPropertyNames(dom.window)) {
  if (key in g || key.startsWith('_')) continue;
  Object.defineProperty(g, key, { value: win[key], configurable: true, writable: true });
}

/** matchMedia stub: reports light, records listeners (a test can flip `prefersDark`). */
export const media = { prefersDark: false, listeners: new Set<(e: { matches: boolean }) => void>() };
const matchMedia = (query: string) => ({
  get matches() {
    return query.includes('dark') ? media.prefersDark : false;
  },
  media: query,
  onchange: null,
  addEventListener: (_: string, l: (e: { matches: boolean }) => void) => media.listeners.add(l),
  removeEventListener: (_: string, l: (e: { matches: boolean }) => void) => media.listeners.delete(l),
  addListener: () => undefined,
  removeListener: () => undefined,
  dispatchEvent: () => false,
});
g['matchMedia'] = matchMedia;
win['matchMedia'] = matchMedia;

// No layout in jsdom, so nothing to observe; components (VirtualList, recharts' ResponsiveContainer) fall back to their given sizes.
class ResizeObserverStub {
  observe(): void {}
  unobserve(): void {}
  disconnect(): void {}
}
g['ResizeObserver'] = ResizeObserverStub;
win['ResizeObserver'] = ResizeObserverStub;

// React's act() warns unless the environment says it is a test.
g['IS_REACT_ACT_ENVIRONMENT'] = true;
