/**
 * The LabApi of serve mode: every method is `POST /api/<method>` with a JSON
 * body, events arrive over Server-Sent Events from `GET /api/events`
 * (electron/server/serve.ts is the other end).
 *
 * The token: `kvlab serve` prints `http://127.0.0.1:PORT/?token=…`. On load
 * the token is taken from the address, kept in sessionStorage (so a reload
 * keeps working; it never outlives the tab) and removed from the address bar
 * (so it is not bookmarked or shared by accident). Calls send it as
 * `Authorization: Bearer …`; the event stream passes it as `?token=` because
 * EventSource cannot set headers.
 *
 * Errors: the server's `{"error": …}` becomes the same ApiError the other
 * transports reject with; an unreachable server is E_INTERNAL saying so.
 * Browser code only: no node:*, no electron, nothing but @kvlab/core.
 */
import type { LabApi, LabEvent, LabCall } from '@kvlab/core';
import { ApiError, LAB_CALLS } from '@kvlab/core';

export const TOKEN_STORAGE_KEY = 'kvlab.token';

/** Opens an event stream that calls onData with each message's data (the browser's EventSource by default; tests pass their own). */
export type EventSourceFactory = (url: string, onData: (data: string) => void) => { close(): void };

export interface HttpClientOptions {
  /** Origin (and path prefix) of the server; default: this page's origin. */
  readonly baseUrl?: string;
  /** Default: readToken() from this page's address or sessionStorage. */
  readonly token?: string | null;
  readonly fetch?: typeof fetch;
  /** Default: the browser's EventSource. */
  readonly eventSource?: EventSourceFactory;
}

/** What readToken needs from the page (window by default). */
export interface TokenEnv {
  readonly location: { readonly search: string; readonly pathname: string; readonly hash: string };
  readonly storage: Pick<Storage, 'getItem' | 'setItem'> | null;
  readonly history: Pick<History, 'replaceState'> | null;
}

function browserEnv(): TokenEnv | null {
  if (typeof window === 'undefined') return null;
  let storage: Storage | null = null;
  try {
    storage = window.sessionStorage;
  } catch {
    // storage disabled (privacy settings): the token then lives only as long as the address
  }
  return { location: window.location, storage, history: window.history };
}

/** The token from `?token=` (then stored and stripped from the address), else the one stored for this tab. */
export function readToken(env: TokenEnv | null = browserEnv()): string | null {
  if (!env) return null;
  const params = new URLSearchParams(env.location.search);
  const fromUrl = params.get('token');
  if (fromUrl) {
    try {
      env.storage?.setItem(TOKEN_STORAGE_KEY, fromUrl);
      // Drop only the token, leaving the other parameters exactly as written (`?fake` stays `?fake`).
      const rest = env.location.search
        .replace(/^\?/, '')
        .split('&')
        .filter((p) => p && !/^token(=|$)/.test(p))
        .join('&');
      env.history?.replaceState(null, '', `${env.location.pathname}${rest ? `?${rest}` : ''}${env.location.hash}`);
    } catch {
      // keep working with the token in memory
    }
    return fromUrl;
  }
  try {
    return env.storage?.getItem(TOKEN_STORAGE_KEY) ?? null;
  } catch {
    return null;
  }
}

function defaultBaseUrl(): string {
  return typeof window === 'undefined' ? '' : window.location.origin;
}

function defaultEventSource(): EventSourceFactory | null {
  if (typeof EventSource === 'undefined') return null;
  return (url, onData) => {
    // EventSource reconnects by itself (the server sends `retry:`), so errors need no handling here.
    const es = new EventSource(url);
    es.onmessage = (ev: MessageEvent) => onData(String(ev.data));
    return { close: () => es.close() };
  };
}

const isEvent = (x: unknown): x is LabEvent => typeof x === 'object' && x !== null && typeof (x as { type?: unknown }).type === 'string';

export function createHttpClient(opts: HttpClientOptions = {}): LabApi & { close(): void } {
  const base = (opts.baseUrl ?? defaultBaseUrl()).replace(/\/+$/, '');
  const token = opts.token === undefined ? readToken() : opts.token;
  const doFetch = opts.fetch ?? ((input: RequestInfo | URL, init?: RequestInit) => fetch(input, init));
  const events = eventHub({ base, token, openStream: opts.eventSource ?? defaultEventSource() });
  const call = (method: LabCall, input: unknown): Promise<unknown> => postCall({ base, token, doFetch }, method, input);
  const methods = Object.fromEntries(LAB_CALLS.map((m) => [m, (input: unknown) => call(m, input)])) as Omit<LabApi, 'onEvent'>;
  return { ...methods, onEvent: events.onEvent, close: events.close };
}

interface Endpoint {
  readonly base: string;
  readonly token: string | null | undefined;
  readonly doFetch: (input: RequestInfo | URL, init?: RequestInit) => Promise<Response>;
}

/** One API call: POST its input as JSON with the bearer token; the answer's JSON, or its error as an ApiError. */
async function postCall({ base, token, doFetch }: Endpoint, method: LabCall, input: unknown): Promise<unknown> {
  if (!token) throw new ApiError('E_FORBIDDEN', 'no access token: open the address kvlab serve printed (it ends with ?token=…)');
  let res: Response;
  try {
    res = await doFetch(`${base}/api/${method}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
      body: JSON.stringify(input ?? {}),
    });
  } catch (e) {
    throw new ApiError(
      'E_INTERNAL',
      `cannot reach the KV Lab server${base ? ` at ${base}` : ''}: ${e instanceof Error ? e.message : String(e)} (is kvlab serve still running?)`,
    );
  }
  return readAnswer(method, res);
}

/** The answer's body as JSON (null when empty); a non-2xx answer throws the server's error, or one naming the HTTP status. */
async function readAnswer(method: LabCall, res: Response): Promise<unknown> {
  const text = await res.text();
  let body: unknown = null;
  if (text) {
    try {
      body = JSON.parse(text);
    } catch {
      throw new ApiError('E_INTERNAL', `${method}: the server answered HTTP ${res.status} with something that is not JSON`);
    }
  }
  if (!res.ok) {
    const err = typeof body === 'object' && body !== null && 'error' in body ? body.error : undefined;
    throw err !== undefined ? ApiError.fromJSON(err) : new ApiError(res.status === 401 ? 'E_FORBIDDEN' : 'E_INTERNAL', `${method}: HTTP ${res.status}`);
  }
  return body;
}

/**
 * The server's event stream, shared by every listener: opened by the first listener and closed when the
 * last one leaves. A listener that throws is logged and does not keep the others from their event.
 */
function eventHub(o: { base: string; token: string | null | undefined; openStream: EventSourceFactory | null }): Pick<LabApi, 'onEvent'> & { close(): void } {
  const listeners = new Set<(e: LabEvent) => void>();
  let stream: { close(): void } | null = null;
  const deliver = (data: string): void => {
    let e: unknown;
    try {
      e = JSON.parse(data);
    } catch {
      return;
    }
    if (!isEvent(e)) return;
    for (const l of [...listeners]) {
      try {
        l(e);
      } catch (err) {
        console.error('KV Lab event listener failed', err);
      }
    }
  };
  const open = (): void => {
    if (stream || !o.openStream || !o.token) return;
    stream = o.openStream(`${o.base}/api/events?token=${encodeURIComponent(o.token)}`, deliver);
  };
  const close = (): void => {
    stream?.close();
    stream = null;
  };
  return {
    onEvent(listener) {
      listeners.add(listener);
      open();
      return () => {
        listeners.delete(listener);
        // The stream is only held while someone listens.
        if (listeners.size === 0) close();
      };
    },
    close,
  };
}
