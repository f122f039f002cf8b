/**
 * What our pages may ask the browser for, and which network requests may
 * leave them. Pure functions over URLs and permission names, wired up by
 * main.ts on the default session.
 *
 * Permissions: everything is refused except writing to the clipboard (the UI
 * copies method strings and tables) and fullscreen, and only for our own
 * origin. Requests: only our app:// origin and the in-memory schemes a page
 * makes for itself (data:, blob:), plus devtools:// for the developer tools.
 * http(s), ws(s) and file:// are cancelled: the app never loads anything
 * remote, and the CSP already forbids it — this is the second wall.
 */
import { isAppUrl } from './navigation.ts';

const ALLOWED_PERMISSIONS: ReadonlySet<string> = new Set(['clipboard-sanitized-write', 'fullscreen']);

export function isPermissionAllowed(permission: string, requestingUrl: string): boolean {
  return ALLOWED_PERMISSIONS.has(permission) && isAppUrl(requestingUrl);
}

const LOCAL_SCHEMES: ReadonlySet<string> = new Set(['data:', 'blob:', 'devtools:']);

/** True for a request our pages must not make. */
export function shouldBlockRequest(url: string): boolean {
  if (isAppUrl(url)) return false;
  try {
    return !LOCAL_SCHEMES.has(new URL(url).protocol);
  } catch {
    return true;
  }
}
