/**
 * Serves the built renderer (dist/renderer) on the privileged custom scheme
 * app://kvlab. The handler is a plain `(Request) => Promise<Response>` with no
 * electron import, so the path checks run under plain Node in the tests;
 * main.ts hands it to protocol.handle.
 *
 * Every response carries our CSP as a header: a page served this way has no
 * HTTP server in front of it, so this is where the policy is set (a <meta>
 * tag cannot carry frame-ancestors, and would depend on the renderer build).
 */
import { readFile as fsReadFile } from 'node:fs/promises';
import { extname, isAbsolute, relative, resolve, sep } from 'node:path';
import { APP_HOST, APP_SCHEME } from './navigation.ts';

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.ico': 'image/x-icon',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.ttf': 'font/ttf',
  '.wasm': 'application/wasm',
  '.txt': 'text/plain; charset=utf-8',
};

export function contentTypeFor(path: string): string {
  return CONTENT_TYPES[extname(path).toLowerCase()] ?? 'application/octet-stream';
}

export type AppFileResolution = { readonly ok: true; readonly path: string } | { readonly ok: false; readonly status: 400 | 403 | 404 };

/**
 * The file under `root` a request URL names, or why not: 403 for another
 * origin or a path that leaves the root (after percent-decoding, so
 * `%2e%2e%2f` is caught too), 400 for an undecodable path or a NUL byte.
 * `/` means index.html.
 */
export function resolveAppFile(root: string, url: string): AppFileResolution {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return { ok: false, status: 400 };
  }
  if (u.protocol !== `${APP_SCHEME}:` || u.host !== APP_HOST) return { ok: false, status: 403 };
  let pathname: string;
  try {
    pathname = decodeURIComponent(u.pathname);
  } catch {
    return { ok: false, status: 400 };
  }
  if (pathname.includes('\0')) return { ok: false, status: 400 };
  if (pathname === '' || pathname.endsWith('/')) pathname += 'index.html';
  const base = resolve(root);
  const file = resolve(base, `.${pathname.startsWith('/') ? '' : '/'}${pathname}`);
  const rel = relative(base, file);
  if (rel === '' || rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel)) return { ok: false, status: 403 };
  return { ok: true, path: file };
}

export interface AppProtocolOptions {
  /** The built renderer folder. */
  readonly root: string;
  /** The Content-Security-Policy header value. */
  readonly csp: string;
  /** Injectable for tests; defaults to fs.readFile. */
  readonly readFile?: (path: string) => Promise<Uint8Array>;
}

/** The protocol handler: GET/HEAD of files under `root`, with our security headers. */
export function createAppProtocolHandler(opts: AppProtocolOptions): (request: { readonly url: string; readonly method: string }) => Promise<Response> {
  const read = opts.readFile ?? ((p: string) => fsReadFile(p));
  const headers = (type: string): Record<string, string> => ({
    'Content-Type': type,
    'Content-Security-Policy': opts.csp,
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
    'Cache-Control': 'no-cache',
  });
  const fail = (status: number): Response => new Response(null, { status, headers: headers('text/plain; charset=utf-8') });
  return async (request) => {
    if (request.method !== 'GET' && request.method !== 'HEAD') return fail(405);
    const r = resolveAppFile(opts.root, request.url);
    if (!r.ok) return fail(r.status);
    let body: Uint8Array;
    try {
      body = await read(r.path);
    } catch {
      // ENOENT, or a folder: either way there is no such page.
      return fail(404);
    }
    return new Response(request.method === 'HEAD' ? null : body, { status: 200, headers: headers(contentTypeFor(r.path)) });
  };
}
