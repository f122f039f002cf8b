/**
 * Downloads a model from the Hugging Face Hub with node's fetch, for the
 * contract's downloadModel: one .gguf file of a repo, or the files the HF
 * loader needs from a transformers folder (config.json, tokenizer.json,
 * tokenizer_config.json, the *.safetensors shards and their index).
 *
 *   list      GET {endpoint}/api/models/{repo}/revision/{revision}?blobs=true
 *             → { siblings: [{ rfilename, size? }] }
 *   download  GET {endpoint}/{repo}/resolve/{revision}/{path} (the Hub
 *             redirects LFS files to its CDN; fetch follows, and drops the
 *             Authorization header on the cross-origin hop)
 *
 * Files land in <modelsDir>/<owner>--<name>/<path>: each is streamed to
 * <path>.part and renamed when complete, so a half-written file is never
 * taken for a model. A file already there with the listed size is kept (an
 * interrupted folder download resumes file by file). The endpoint comes from
 * $HF_ENDPOINT (default https://huggingface.co), the token from $HF_TOKEN.
 *
 * Failures are ApiErrors that say what happened: the Hub unreachable
 * ("cannot reach huggingface.co: …", E_NOT_FOUND, details.reason 'offline'),
 * no such repo / revision / file (E_NOT_FOUND), gated or private without a
 * token (E_FORBIDDEN), a repo with nothing the engine can load (E_MODEL).
 */
import { existsSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import { ApiError } from '@kvlab/core';

export const DEFAULT_HF_ENDPOINT = 'https://huggingface.co';

export interface HfDownloadProgress {
  /** Bytes written so far over all the files (never decreases). */
  readonly bytesDone: number;
  /** The files' total size as listed (may grow when the listing lacks a size and the response tells it). */
  readonly bytesTotal: number;
  /** The file being transferred (repo-relative). */
  readonly current: string;
}

export interface HfDownloadOptions {
  /** "owner/name" (validated by the contract). */
  readonly repo: string;
  readonly revision?: string;
  /** A .gguf file in the repo; omitted: the safetensors folder. */
  readonly file?: string;
  /** Parent of the per-repo folders. */
  readonly modelsDir: string;
  /** Default $HF_ENDPOINT, else https://huggingface.co. */
  readonly endpoint?: string;
  /** Default $HF_TOKEN (sent as a Bearer token). */
  readonly token?: string;
  readonly signal?: AbortSignal;
  readonly onProgress?: (p: HfDownloadProgress) => void;
  /** Minimum milliseconds between progress reports inside a file (default 100; every file's end is reported). */
  readonly progressIntervalMs?: number;
}

export interface HfDownloadResult {
  /** What to open: the .gguf file, or the folder. */
  readonly path: string;
  /** The repo's local folder. */
  readonly dir: string;
  /** Repo-relative paths downloaded or already present. */
  readonly files: readonly string[];
  readonly bytes: number;
}

interface Sibling {
  readonly name: string;
  readonly size: number | undefined;
}

/** The files the HF folder loader reads: config, tokenizer, safetensors weights (+ index), at the repo's top level. */
export function hfFolderFiles(names: readonly string[]): string[] {
  const top = names.filter((n) => !n.includes('/'));
  return top.filter(
    (n) => ['config.json', 'tokenizer.json', 'tokenizer_config.json'].includes(n) || /\.safetensors$/.test(n) || /\.safetensors\.index\.json$/.test(n),
  );
}

/** <modelsDir>/<owner>--<name>: where a repo's files go. */
export function hfLocalDir(modelsDir: string, repo: string): string {
  return join(resolve(modelsDir), repo.replace('/', '--'));
}

const quotePath = (p: string): string => p.split('/').map(encodeURIComponent).join('/');

/** A repo-relative path the Hub listed or the user gave, kept inside the local folder. */
function safeRelative(dir: string, rel: string): string {
  if (!rel || rel.includes('\\') || rel.startsWith('/') || rel.split('/').some((p) => p === '..' || p === '.' || p === '')) {
    throw new ApiError('E_INVALID', `refusing the repo path '${rel}': not a plain relative path`);
  }
  const full = resolve(dir, rel);
  if (!full.startsWith(dir + sep)) throw new ApiError('E_INVALID', `refusing the repo path '${rel}': outside the model folder`);
  return full;
}

function causeText(e: unknown): string {
  const c = e instanceof Error && e.cause !== undefined ? e.cause : e;
  if (c instanceof AggregateError && c.errors.length) return causeText(c.errors[0]);
  if (c instanceof Error) {
    const code = (c as NodeJS.ErrnoException).code;
    return code && !c.message.includes(code) ? `${code} ${c.message}` : c.message;
  }
  return String(c);
}

class HubClient {
  readonly host: string;
  constructor(
    readonly endpoint: string,
    private readonly token: string | undefined,
    private readonly signal: AbortSignal | undefined,
  ) {
    let host: string;
    try {
      host = new URL(endpoint).host;
    } catch {
      throw new ApiError('E_INVALID', `HF_ENDPOINT '${endpoint}' is not a URL`);
    }
    this.host = host;
  }

  /** GET with the token; network failures become the offline ApiError, HTTP errors the Hub's meaning. */
  async get(url: string, what: string, timeoutMs?: number): Promise<Response> {
    const signals = [this.signal, timeoutMs ? AbortSignal.timeout(timeoutMs) : undefined].filter((s): s is AbortSignal => s !== undefined);
    let res: Response;
    try {
      res = await fetch(url, {
        headers: { ...(this.token ? { authorization: `Bearer ${this.token}` } : {}), 'user-agent': 'kvlab' },
        redirect: 'follow',
        ...(signals.length ? { signal: signals.length === 1 ? signals[0] : AbortSignal.any(signals) } : {}),
      });
    } catch (e) {
      if (this.signal?.aborted) throw new ApiError('E_CANCELLED', `download cancelled (${what})`);
      throw new ApiError('E_NOT_FOUND', `cannot reach ${this.host}: ${causeText(e)} (is this machine online? $HF_ENDPOINT sets another mirror)`, {
        reason: 'offline',
        endpoint: this.endpoint,
      });
    }
    if (res.ok) return res;
    const code = res.headers.get('x-error-code') ?? '';
    const serverMsg = res.headers.get('x-error-message') ?? '';
    await res.body?.cancel().catch(() => undefined);
    const tail = serverMsg ? ` (${this.host}: ${serverMsg})` : ` (${this.host} answered ${res.status})`;
    if (code === 'GatedRepo' || res.status === 403)
      throw new ApiError('E_FORBIDDEN', `${what}: access denied; the repo may be gated: accept its terms on the Hub and set HF_TOKEN${tail}`, {
        status: res.status,
      });
    if (code === 'RepoNotFound' || res.status === 401)
      throw new ApiError('E_NOT_FOUND', `${what}: no such repo, or it is private (set HF_TOKEN to a token that can read it)${tail}`, { status: res.status });
    if (res.status === 404) {
      const m =
        code === 'RevisionNotFound' ? 'no such revision' : code === 'EntryNotFound' ? 'no such file in the repo' : 'not found (no such repo, revision or file)';
      throw new ApiError('E_NOT_FOUND', `${what}: ${m}${tail}`, { status: res.status });
    }
    throw new ApiError('E_INTERNAL', `${what}: the Hub answered HTTP ${res.status}${tail}`, { status: res.status });
  }

  async list(repo: string, revision: string): Promise<Sibling[]> {
    const url = `${this.endpoint}/api/models/${repo}/revision/${encodeURIComponent(revision)}?blobs=true`;
    const res = await this.get(url, `${repo}@${revision}`, 60_000);
    let body: unknown;
    try {
      body = await res.json();
    } catch (e) {
      throw new ApiError('E_INTERNAL', `${repo}@${revision}: the Hub's file list is not JSON: ${causeText(e)}`);
    }
    const siblings = (body as { siblings?: unknown }).siblings;
    if (!Array.isArray(siblings)) throw new ApiError('E_INTERNAL', `${repo}@${revision}: the Hub's answer has no file list (siblings)`);
    return siblings.flatMap((s: unknown): Sibling[] => {
      const o = s as { rfilename?: unknown; size?: unknown; lfs?: { size?: unknown } };
      if (typeof o.rfilename !== 'string') return [];
      const size = typeof o.size === 'number' ? o.size : typeof o.lfs?.size === 'number' ? o.lfs.size : undefined;
      return [{ name: o.rfilename, size }];
    });
  }
}

/** The .gguf files of a listing, for error messages that say what to pick instead. */
function ggufNames(siblings: readonly Sibling[]): string[] {
  return siblings.filter((x) => /\.gguf$/i.test(x.name)).map((x) => x.name);
}

/** What to download: the one file asked for, or the safetensors folder's files; refusals name what the repo has instead. */
function chooseFiles(siblings: readonly Sibling[], file: string | undefined, where: string): Sibling[] {
  const byName = new Map(siblings.map((s) => [s.name, s]));
  if (file !== undefined) {
    const s = byName.get(file);
    if (s) return [s];
    const ggufs = ggufNames(siblings);
    const list = ggufs.length ? `; its .gguf files: ${ggufs.slice(0, 20).join(', ')}${ggufs.length > 20 ? ', …' : ''}` : '';
    throw new ApiError('E_NOT_FOUND', `${where} has no file '${file}'${list}`, { files: ggufs });
  }
  const names = hfFolderFiles(siblings.map((s) => s.name));
  if (!names.includes('config.json') || !names.some((n) => n.endsWith('.safetensors'))) {
    const ggufs = ggufNames(siblings);
    throw new ApiError(
      'E_MODEL',
      `${where} is not a Hugging Face safetensors model (it needs config.json and *.safetensors)` +
        (ggufs.length ? `; it has .gguf files, pick one: ${ggufs.slice(0, 20).join(', ')}` : ''),
      { files: ggufs },
    );
  }
  return names.map((n) => byName.get(n) ?? { name: n, size: undefined });
}

/** Byte counts over all the files, reported at most every `interval` ms inside a file and always at a file's end. */
class Progress {
  bytesTotal: number;
  bytesDone = 0;
  private last = 0;

  constructor(
    bytesTotal: number,
    private readonly interval: number,
    private readonly onProgress: ((p: HfDownloadProgress) => void) | undefined,
  ) {
    this.bytesTotal = bytesTotal;
  }

  report(current: string, force: boolean): void {
    const now = Date.now();
    if (!force && now - this.last < this.interval) return;
    this.last = now;
    this.onProgress?.({ bytesDone: this.bytesDone, bytesTotal: Math.max(this.bytesTotal, this.bytesDone), current });
  }
}

interface Target extends Sibling {
  /** Where it goes on disk. */
  readonly path: string;
}

interface FileTransfer {
  readonly hub: HubClient;
  readonly repo: string;
  readonly revision: string;
  readonly progress: Progress;
  readonly signal: AbortSignal | undefined;
}

/** Streams a response body into `part`, counting bytes; a broken transfer is the offline error, an abort E_CANCELLED. */
async function writeBody(res: Response, part: string, t: Target, x: FileTransfer): Promise<number> {
  const fh = await open(part, 'w');
  let written = 0;
  try {
    const reader = res.body?.getReader();
    for (;;) {
      if (!reader) break;
      let chunk: Awaited<ReturnType<typeof reader.read>>;
      try {
        chunk = await reader.read();
      } catch (e) {
        if (x.signal?.aborted) throw new ApiError('E_CANCELLED', `download cancelled (${t.name})`);
        throw new ApiError('E_NOT_FOUND', `cannot reach ${x.hub.host}: the transfer of ${t.name} broke off: ${causeText(e)}`, {
          reason: 'offline',
          endpoint: x.hub.endpoint,
        });
      }
      if (chunk.done) break;
      await fh.write(chunk.value);
      written += chunk.value.byteLength;
      x.progress.bytesDone += chunk.value.byteLength;
      x.progress.report(t.name, false);
    }
  } catch (e) {
    await fh.close().catch(() => undefined);
    rmSync(part, { force: true });
    throw e;
  }
  await fh.close();
  return written;
}

/** Downloads one file to <path>.part and renames it when complete; a file already there with the listed size is kept. */
async function downloadFile(t: Target, x: FileTransfer): Promise<void> {
  const have = statSync(t.path, { throwIfNoEntry: false });
  if (have?.isFile() && t.size !== undefined && have.size === t.size) {
    x.progress.bytesDone += t.size;
    x.progress.report(t.name, true);
    return;
  }
  const res = await x.hub.get(
    `${x.hub.endpoint}/${x.repo}/resolve/${encodeURIComponent(x.revision)}/${quotePath(t.name)}`,
    `${x.repo}@${x.revision}: ${t.name}`,
  );
  const length = Number(res.headers.get('content-length') ?? NaN);
  if (t.size === undefined && Number.isFinite(length)) x.progress.bytesTotal += length;
  const expected = t.size ?? (Number.isFinite(length) ? length : undefined);
  mkdirSync(dirname(t.path), { recursive: true });
  const part = `${t.path}.part`;
  const written = await writeBody(res, part, t, x);
  if (expected !== undefined && written !== expected) {
    rmSync(part, { force: true });
    throw new ApiError('E_INTERNAL', `${x.repo}@${x.revision}: ${t.name}: got ${written} bytes of ${expected}; try again`);
  }
  renameSync(part, t.path);
  x.progress.report(t.name, true);
}

/** Downloads the repo's .gguf file or safetensors folder; returns what to open. */
export async function downloadHfModel(opts: HfDownloadOptions): Promise<HfDownloadResult> {
  const revision = opts.revision ?? 'main';
  const endpoint = (opts.endpoint ?? (process.env['HF_ENDPOINT'] || DEFAULT_HF_ENDPOINT)).replace(/\/+$/, '');
  const token = opts.token ?? (process.env['HF_TOKEN'] || undefined);
  const hub = new HubClient(endpoint, token, opts.signal);
  const dir = hfLocalDir(opts.modelsDir, opts.repo);

  const wanted = chooseFiles(await hub.list(opts.repo, revision), opts.file, `${opts.repo}@${revision}`);
  const targets: Target[] = wanted.map((s) => ({ ...s, path: safeRelative(dir, s.name) }));
  const progress = new Progress(
    targets.reduce((a, t) => a + (t.size ?? 0), 0),
    opts.progressIntervalMs ?? 100,
    opts.onProgress,
  );
  progress.report(targets[0]?.name ?? '', true);

  mkdirSync(dir, { recursive: true });
  const transfer: FileTransfer = { hub, repo: opts.repo, revision, progress, signal: opts.signal };
  for (const t of targets) await downloadFile(t, transfer);
  const path = opts.file !== undefined ? (targets[0]?.path ?? dir) : dir;
  if (!existsSync(path)) throw new ApiError('E_INTERNAL', `${path}: missing after the download`);
  return { path, dir, files: targets.map((t) => t.name), bytes: progress.bytesDone };
}
