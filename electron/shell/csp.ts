/**
 * The Content-Security-Policy of the app's pages. The renderer is built by
 * vite into plain files (no inline scripts, no eval), so scripts come only
 * from our own origin; nothing remote is ever loaded or contacted, and the
 * page can be neither framed nor used to post forms anywhere.
 *
 * Styles: React's `style` props and recharts' text measuring write through
 * the CSSOM (element.style), which CSP does not govern, so 'unsafe-inline' is
 * not needed; `inlineStyles` exists only for a build that injects <style>
 * tags. Pure data, so serve mode can send the same header.
 */

export interface CspOptions {
  /** Adds 'unsafe-inline' to style-src (off by default). */
  readonly inlineStyles?: boolean;
}

export function cspDirectives(opts: CspOptions = {}): Readonly<Record<string, readonly string[]>> {
  return {
    'default-src': ["'self'"],
    'script-src': ["'self'"],
    'style-src': opts.inlineStyles === true ? ["'self'", "'unsafe-inline'"] : ["'self'"],
    'img-src': ["'self'", 'data:', 'blob:'],
    'font-src': ["'self'"],
    'connect-src': ["'self'"],
    'worker-src': ["'self'"],
    'object-src': ["'none'"],
    'frame-src': ["'none'"],
    'base-uri': ["'none'"],
    'form-action': ["'none'"],
    'frame-ancestors': ["'none'"],
  };
}

/** The policy as one header value. */
export function contentSecurityPolicy(opts: CspOptions = {}): string {
  return Object.entries(cspDirectives(opts))
    .map(([name, sources]) => `${name} ${sources.join(' ')}`)
    .join('; ');
}

/**
 * Response headers with our policy in place of any the response carried
 * (header names compared case-insensitively, as HTTP does). Shaped for
 * Electron's webRequest.onHeadersReceived, whose headers are string arrays.
 */
export function withCspHeader(headers: Readonly<Record<string, string | readonly string[]>> | undefined, csp: string): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (name.toLowerCase() === 'content-security-policy') continue;
    out[name] = typeof value === 'string' ? [value] : [...value];
  }
  out['Content-Security-Policy'] = [csp];
  return out;
}
