/**
 * Where the app's windows may go. Pages are served from one privileged custom
 * origin, app://kvlab (see app-protocol.ts), rather than file://: every file://
 * page shares one origin, so "is this our page?" could only be answered by
 * path, and CSP 'self' would cover the whole disk. With a custom origin the
 * answer is one comparison.
 *
 * Every navigation and window.open to anything else is denied. A plain
 * http(s) link (a paper URL in a method's description) is handed to the
 * system browser instead, never loaded in the app. Pure functions: main.ts
 * wires them to will-navigate / setWindowOpenHandler.
 */

export const APP_SCHEME = 'app';
export const APP_HOST = 'kvlab';
export const APP_ORIGIN = `${APP_SCHEME}://${APP_HOST}`;
/** What the main window loads. */
export const APP_ENTRY_URL = `${APP_ORIGIN}/index.html`;

function parse(url: string): URL | null {
  try {
    return new URL(url);
  } catch {
    return null;
  }
}

/** True for a URL on our own origin (app://kvlab/…). */
export function isAppUrl(url: string): boolean {
  const u = parse(url);
  return u !== null && u.protocol === `${APP_SCHEME}:` && u.host === APP_HOST && u.username === '' && u.password === '';
}

export type NavigationDecision =
  /** Stay in the app: our own page. */
  | { readonly allow: true }
  /** Refuse; `external` is an http(s) URL to give the system browser, or null to drop it. */
  | { readonly allow: false; readonly external: string | null };

/** The decision for a navigation or window.open from one of our pages. */
export function decideNavigation(url: string): NavigationDecision {
  if (isAppUrl(url)) return { allow: true };
  const u = parse(url);
  const external = u !== null && (u.protocol === 'https:' || u.protocol === 'http:') && u.username === '' && u.password === '' ? u.href : null;
  return { allow: false, external };
}

/**
 * The decision for window.open: never a new in-app window (the UI has no
 * use for one), even to our own origin; http(s) goes to the system browser.
 */
export function decideWindowOpen(url: string): { readonly action: 'deny'; readonly external: string | null } {
  const d = decideNavigation(url);
  return { action: 'deny', external: d.allow ? null : d.external };
}
