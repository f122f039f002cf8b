/**
 * Serve mode: the lab in a browser. A node:http server that serves the built
 * UI (dist/renderer) and the contract's API:
 *
 *   POST /api/<method>   JSON body → 200 JSON result, or an error status and
 *                        {"error": ApiError JSON}
 *   GET  /api/events     Server-Sent Events, one `data: <LabEvent JSON>` each
 *
 * Security, since anything on the machine (and any web page the user visits)
 * can reach a local port:
 *   - every /api request needs `Authorization: Bearer <token>` (the event
 *     stream may pass `?token=` instead, because EventSource cannot set
 *     headers); the token is random (crypto.randomBytes) and printed once, in
 *     the URL. Missing or wrong → 401 E_FORBIDDEN; comparison is constant-time;
 *   - no CORS headers, so another origin's page cannot read a response; API
 *     calls must be `application/json`, which a plain cross-site form cannot send;
 *   - it binds 127.0.0.1 unless told otherwise (--host). On any other address
 *     without TLS the token and every result cross the network in cleartext:
 *     `kvlab serve` warns (exposureWarning) and recommends SSH port forwarding;
 *     with `tls` (--tls-cert/--tls-key, the user's PEM files) it serves HTTPS;
 *   - static paths are decoded, resolved and must stay inside the static root
 *     (also after resolving symlinks): anything else is 403, never the file;
 *   - request bodies are capped (413).
 * Inputs are validated by core's dispatch/parseInput (400 E_INVALID).
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { createReadStream, existsSync, readFileSync, realpathSync, statSync } from 'node:fs';
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { isIP } from 'node:net';
import { extname, resolve, sep } from 'node:path';
import { createSecureContext } from 'node:tls';
import type { ApiErrorCode, LabEvent, LabHandlers } from '@kvlab/core';
import { ApiError, dispatch, isLabCall, LabError } from '@kvlab/core';

/** What the server calls: the handlers plus an event subscription (a LabProcessClient is one). */
export interface ServerHandlers extends LabHandlers {
  onEvent(listener: (e: LabEvent) => void): () => void;
}

export interface ServeOptions {
  /** 0 (default) picks a free port. */
  readonly port?: number;
  /** Default 127.0.0.1 (this machine only). */
  readonly host?: string;
  /** Default: 32 random bytes, base64url. */
  readonly token?: string;
  /** The built UI (dist/renderer). When it has no index.html, `/` says how to build it. */
  readonly staticDir: string;
  readonly handlers: ServerHandlers;
  /** Largest accepted request body (bytes). Default 16 MiB (a 1M-character prompt, JSON-escaped). */
  readonly maxBodyBytes?: number;
  /** Interval of the SSE keep-alive comment (ms). Default 15 s. */
  readonly heartbeatMs?: number;
  /** Serve HTTPS with the user's certificate and key (PEM, as readTlsFiles returns them); default plain HTTP. */
  readonly tls?: TlsCredentials;
}

export interface TlsCredentials {
  readonly cert: Buffer;
  readonly key: Buffer;
}

/** A --tls-cert or --tls-key file that cannot be used: names the file, the flag and what is wrong. */
export class TlsFileError extends LabError {
  readonly apiCode = 'E_INVALID' as const;
  constructor(
    readonly file: string,
    readonly problem: string,
  ) {
    super(`${file}: ${problem}`);
    this.name = 'TlsFileError';
  }
}

/**
 * Reads the user's certificate and private key for HTTPS and checks that they
 * are PEM and belong together, so a mistake is one clear line at start-up
 * rather than a TLS handshake error in the browser.
 */
export function readTlsFiles(certFile: string, keyFile: string): TlsCredentials {
  const read = (file: string, flag: string, what: string): Buffer => {
    let data: Buffer;
    try {
      data = readFileSync(file);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      const why =
        code === 'ENOENT'
          ? 'no such file'
          : code === 'EISDIR'
            ? 'is a folder, not a file'
            : code === 'EACCES' || code === 'EPERM'
              ? 'cannot be read (permission denied)'
              : `cannot be read (${(e as Error).message})`;
      throw new TlsFileError(file, `${flag} ${why}; give the ${what} as a PEM file`);
    }
    if (!data.includes('-----BEGIN ')) throw new TlsFileError(file, `${flag} is not a PEM file (no "-----BEGIN" line); give the ${what} as a PEM file`);
    return data;
  };
  const cert = read(certFile, '--tls-cert', 'certificate');
  const key = read(keyFile, '--tls-key', 'private key');
  try {
    createSecureContext({ cert, key });
  } catch (e) {
    const msg = (e as Error).message;
    if (/key values mismatch/i.test(msg)) throw new TlsFileError(keyFile, `--tls-key is not the private key of the certificate ${certFile}`);
    // OpenSSL names which of the two it could not decode.
    const bad = /key/i.test(msg) && !/cert/i.test(msg) ? keyFile : certFile;
    throw new TlsFileError(bad, `not a usable ${bad === keyFile ? 'private key' : 'certificate'} (${msg})`);
  }
  return { cert, key };
}

/** 127.0.0.0/8, ::1 and localhost: addresses no other machine can reach. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h === '::1') return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  return /^::ffff:127\./.test(h);
}

/**
 * What `kvlab serve` prints before the URL when other machines can reach it,
 * or null on a loopback address. Without TLS the bearer token (in the URL and
 * every request) and every result travel in cleartext, so the warning says so
 * and gives the safer route first: SSH port forwarding to a loopback bind.
 */
export function exposureWarning(host: string, port: number, tls: boolean): string | null {
  if (isLoopbackHost(host)) return null;
  if (tls) return `kvlab serve: listening on ${host} over HTTPS: anyone who can reach this machine and has the token can use the lab`;
  const p = port || 8787;
  return [
    `kvlab serve: WARNING: listening on ${host} without TLS. The token and every result cross the network in cleartext;`,
    '  anyone on the way can read them and use the lab. Safer: keep the default --host 127.0.0.1 and forward the port over SSH:',
    `    here:           kvlab serve --port ${p}`,
    `    your computer:  ssh -L ${p}:127.0.0.1:${p} <this-machine>`,
    '  then open the printed URL on your computer. Or serve HTTPS with your certificate: --tls-cert <cert.pem> --tls-key <key.pem>.',
  ].join('\n');
}

export interface RunningServer {
  /** http(s)://host:port/?token=… — the one line `kvlab serve` prints. */
  readonly url: string;
  /** http(s)://host:port */
  readonly origin: string;
  readonly token: string;
  readonly host: string;
  readonly port: number;
  /** Ends the event streams, stops listening and closes every connection. */
  close(): Promise<void>;
}

const STATUS: Readonly<Record<ApiErrorCode, number>> = {
  E_INVALID: 400,
  E_UNKNOWN_CALL: 404,
  E_NOT_FOUND: 404,
  E_FORBIDDEN: 403,
  E_BUSY: 409,
  E_MODEL: 422,
  E_CANCELLED: 409,
  E_INTERNAL: 500,
};

const MIME: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.woff': 'font/woff',
  '.txt': 'text/plain; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.wasm': 'application/wasm',
};

/** The UI talks only to its own origin; no inline scripts, no plugins, no framing. Inline styles: React/recharts set style attributes. */
export const CSP =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const COMMON_HEADERS = { 'X-Content-Type-Options': 'nosniff', 'Referrer-Policy': 'no-referrer', 'X-Frame-Options': 'DENY' } as const;

export const NOT_BUILT_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>KV Lab</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40em;margin:4em auto;padding:0 1em}code{background:#8882;padding:.1em .3em;border-radius:3px}</style>
</head><body><h1>KV Lab</h1>
<p>The engine is running, but the user interface has not been built yet.</p>
<p>Run <code>npm run build:renderer</code> in the KV Lab folder, then reload this page (keep the <code>?token=…</code> part of the address).</p>
</body></html>
`;

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly apiError: ApiError,
  ) {
    super(apiError.message);
  }
}

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();

function sendJson(res: ServerResponse, status: number, body: unknown, extra: Record<string, string> = {}): void {
  const text = JSON.stringify(body ?? null);
  res.writeHead(status, { ...COMMON_HEADERS, 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store', ...extra });
  res.end(text);
}

function sendError(res: ServerResponse, status: number, e: ApiError, extra: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  sendJson(res, status, { error: e.toJSON() }, extra);
}

function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolveBody, reject) => {
    const declared = Number(req.headers['content-length'] ?? NaN);
    if (Number.isFinite(declared) && declared > limit) {
      reject(new HttpError(413, new ApiError('E_INVALID', `request body of ${declared} bytes exceeds the ${limit}-byte limit`)));
      req.resume();
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    req.on('data', (c: Buffer) => {
      if (failed) return;
      size += c.length;
      if (size > limit) {
        failed = true;
        reject(new HttpError(413, new ApiError('E_INVALID', `request body exceeds the ${limit}-byte limit`)));
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => {
      if (!failed) resolveBody(Buffer.concat(chunks));
    });
    req.on('error', (e) => {
      if (!failed) reject(e);
    });
  });
}

/** What the request handlers share: the options, the token's digest, the app folder and the open event streams. */
interface ServerContext {
  readonly opts: ServeOptions;
  readonly tokenDigest: Buffer;
  readonly root: string;
  readonly maxBody: number;
  readonly heartbeatMs: number;
  readonly streams: Set<ServerResponse>;
}

/** Whether the request carries the token: as a Bearer header, or (for the event stream) as ?token=. */
function authorised(ctx: ServerContext, req: IncomingMessage, query: URLSearchParams, allowQuery: boolean): boolean {
  const header = req.headers.authorization;
  let given: string | null = null;
  if (typeof header === 'string' && /^Bearer /i.test(header)) given = header.slice(7).trim();
  else if (allowQuery) given = query.get('token');
  return given !== null && given.length > 0 && timingSafeEqual(digest(given), ctx.tokenDigest);
}

/** GET /api/events: the lab's events as server-sent events, with a heartbeat, until either side closes. */
function openEventStream(ctx: ServerContext, req: IncomingMessage, res: ServerResponse): void {
  res.writeHead(200, {
    ...COMMON_HEADERS,
    'Content-Type': 'text/event-stream; charset=utf-8',
    'Cache-Control': 'no-store, no-transform',
    Connection: 'keep-alive',
    'X-Accel-Buffering': 'no',
  });
  res.write('retry: 2000\n: connected\n\n');
  ctx.streams.add(res);
  const unsubscribe = ctx.opts.handlers.onEvent((e) => res.write(`data: ${JSON.stringify(e)}\n\n`));
  const ping = setInterval(() => res.write(': ping\n\n'), ctx.heartbeatMs);
  const done = () => {
    unsubscribe();
    clearInterval(ping);
    ctx.streams.delete(res);
  };
  req.on('close', done);
  res.on('close', done);
}

/** The JSON body of an API call (undefined when empty); 415 for another content type, 400 for invalid JSON. */
async function readJsonPayload(req: IncomingMessage, name: string, maxBody: number): Promise<unknown> {
  const type = String(req.headers['content-type'] ?? '')
    .split(';')[0]
    ?.trim()
    .toLowerCase();
  if (type !== 'application/json') throw new HttpError(415, new ApiError('E_INVALID', `${name}: the body must be application/json, got '${type || 'none'}'`));
  const body = await readBody(req, maxBody);
  if (body.length === 0) return undefined;
  try {
    return JSON.parse(body.toString('utf8'));
  } catch (e) {
    throw new HttpError(400, new ApiError('E_INVALID', `${name}: the body is not valid JSON (${(e as Error).message})`));
  }
}

/** /api/events, or POST /api/<method> with a JSON body, answered with the method's JSON result. */
async function handleApi(ctx: ServerContext, req: IncomingMessage, res: ServerResponse, path: string, query: URLSearchParams): Promise<void> {
  const name = path.slice('/api/'.length);
  if (name === 'events') {
    if (!authorised(ctx, req, query, true))
      throw new HttpError(401, new ApiError('E_FORBIDDEN', 'missing or wrong token (add ?token=… from the URL kvlab serve printed)'));
    if (req.method !== 'GET') throw new HttpError(405, new ApiError('E_INVALID', 'the event stream is GET /api/events'));
    openEventStream(ctx, req, res);
    return;
  }
  if (!authorised(ctx, req, query, false)) throw new HttpError(401, new ApiError('E_FORBIDDEN', 'missing or wrong token: send Authorization: Bearer <token>'));
  if (!isLabCall(name)) throw new HttpError(404, new ApiError('E_UNKNOWN_CALL', `unknown API call '${name}'`));
  if (req.method !== 'POST') throw new HttpError(405, new ApiError('E_INVALID', `${name} is called with POST /api/${name}`));
  const payload = await readJsonPayload(req, name, ctx.maxBody);
  const result = await dispatch(ctx.opts.handlers, name, payload);
  sendJson(res, 200, result);
}

/** The file a decoded request path names inside `root` ('/' is index.html); 400/403 for paths that leave it. */
function staticPath(root: string, rawPath: string): { path: string; file: string } {
  let path: string;
  try {
    path = decodeURIComponent(rawPath);
  } catch {
    throw new HttpError(400, new ApiError('E_INVALID', 'malformed path'));
  }
  if (path.includes('\0')) throw new HttpError(400, new ApiError('E_INVALID', 'malformed path'));
  if (path === '/') path = '/index.html';
  const file = resolve(root, `.${path}`);
  if (file !== root && !file.startsWith(root + sep)) throw new HttpError(403, new ApiError('E_FORBIDDEN', 'path outside the app folder'));
  return { path, file };
}

/** GET/HEAD of a file of the built app (or a page saying it is not built). */
function serveStatic(root: string, req: IncomingMessage, res: ServerResponse, rawPath: string): void {
  if (req.method !== 'GET' && req.method !== 'HEAD') throw new HttpError(405, new ApiError('E_INVALID', `${req.method ?? '?'} is not allowed here`));
  const { path, file } = staticPath(root, rawPath);
  const built = existsSync(resolve(root, 'index.html'));
  if (!built && path === '/index.html') {
    res.writeHead(200, { ...COMMON_HEADERS, 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store', 'Content-Security-Policy': CSP });
    res.end(req.method === 'HEAD' ? undefined : NOT_BUILT_PAGE);
    return;
  }
  const st = statSync(file, { throwIfNoEntry: false });
  if (!st?.isFile()) throw new HttpError(404, new ApiError('E_NOT_FOUND', `no such file: ${path}`));
  // A symlink inside the root that points outside it is outside it.
  const real = realpathSync(file);
  const realRoot = realpathSync(root);
  if (!real.startsWith(realRoot + sep)) throw new HttpError(403, new ApiError('E_FORBIDDEN', 'path outside the app folder'));
  const ext = extname(file).toLowerCase();
  res.writeHead(200, {
    ...COMMON_HEADERS,
    'Content-Type': MIME[ext] ?? 'application/octet-stream',
    'Content-Length': String(st.size),
    'Cache-Control': 'no-cache',
    ...(ext === '.html' ? { 'Content-Security-Policy': CSP } : {}),
  });
  if (req.method === 'HEAD') res.end();
  else createReadStream(real).pipe(res);
}

/** Routes /api to handleApi and everything else to serveStatic; any error becomes an error answer. */
function requestListener(ctx: ServerContext): RequestListener {
  return (req, res) => {
    const raw = req.url ?? '/';
    // Only origin-form targets ("/path?query"): no absolute URLs, no "*".
    if (!raw.startsWith('/')) return sendError(res, 400, new ApiError('E_INVALID', 'bad request target'));
    const q = raw.indexOf('?');
    const path = q < 0 ? raw : raw.slice(0, q);
    const query = new URLSearchParams(q < 0 ? '' : raw.slice(q + 1));
    // Both run inside a promise, so a synchronous throw becomes an error answer, never an uncaught exception.
    const work =
      path === '/api' || path.startsWith('/api/')
        ? handleApi(ctx, req, res, path, query)
        : new Promise<void>((done) => done(serveStatic(ctx.root, req, res, path)));
    work.catch((e: unknown) => {
      if (e instanceof HttpError)
        return sendError(res, e.status, e.apiError, e.status === 405 ? { Allow: path.startsWith('/api/') ? 'POST' : 'GET, HEAD' } : {});
      const err = e instanceof ApiError ? e : new ApiError('E_INTERNAL', e instanceof Error ? e.message : String(e));
      sendError(res, STATUS[err.code] ?? 500, err);
    });
  };
}

/** Starts the server; resolves once it listens. */
export async function startServer(opts: ServeOptions): Promise<RunningServer> {
  const token = opts.token ?? randomBytes(32).toString('base64url');
  const host = opts.host ?? '127.0.0.1';
  const ctx: ServerContext = {
    opts,
    tokenDigest: digest(token),
    root: resolve(opts.staticDir),
    maxBody: opts.maxBodyBytes ?? 16 * 1024 * 1024,
    heartbeatMs: opts.heartbeatMs ?? 15_000,
    streams: new Set<ServerResponse>(),
  };
  const listener = requestListener(ctx);
  const server = opts.tls ? createHttpsServer({ cert: opts.tls.cert, key: opts.tls.key }, listener) : createHttpServer(listener);

  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', fail);
      ok();
    });
  });
  const addr = server.address() as AddressInfo;
  // A wildcard bind is reachable at localhost here; remote users substitute the machine's name.
  const shownHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  const origin = `${opts.tls ? 'https' : 'http'}://${shownHost.includes(':') ? `[${shownHost}]` : shownHost}:${addr.port}`;
  return {
    url: `${origin}/?token=${encodeURIComponent(token)}`,
    origin,
    token,
    host,
    port: addr.port,
    close: () =>
      new Promise<void>((done) => {
        for (const s of ctx.streams) s.end();
        ctx.streams.clear();
        server.close(() => done());
        server.closeAllConnections();
      }),
  };
}
