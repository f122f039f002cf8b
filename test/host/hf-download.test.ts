/**
 * downloadModel against a real local HTTP server that imitates the Hugging
 * Face Hub (the listing API, resolve/ with an LFS-style redirect, the Hub's
 * X-Error-Code headers), serving a tiny random model written by the repo's own
 * writers: a safetensors folder and a GGUF file. Checks the files land, the
 * model.download events (monotone, one final done), the ModelCard, the token
 * header, and the errors: 404s, a bad file, a broken transfer, offline.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ApiErrorCode, LabEvent, LabInput } from '@kvlab/core';
import { ApiError, parseInput } from '@kvlab/core';
import { writeGgufModel } from '../../electron/engine/formats/gguf-model-writer.ts';
import { writeHfFolder } from '../../electron/engine/formats/hf.ts';
import { downloadHfModel, hfFolderFiles } from '../../electron/host/hf-download.ts';
import { createInProcessLab, modelIdFor } from '../../electron/host/service.ts';
import type { LabService } from '../../electron/host/service.ts';
import { randomModel } from '../engine/reference/random-model.ts';

type Lab = LabService & { onEvent(l: (e: LabEvent) => void): () => void };
type DownloadEvent = Extract<LabEvent, { type: 'model.download' }>;

async function rejectsWith(p: Promise<unknown>, code: ApiErrorCode, pattern: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof ApiError, `an ApiError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    assert.match(e.message, pattern);
    return true;
  });
}

/** The repos the fake Hub serves: repo → { repo-relative name → bytes }. */
const repos = new Map<string, Map<string, Buffer>>();
const authSeen: (string | undefined)[] = [];

function hub(req: IncomingMessage, res: ServerResponse): void {
  const url = new URL(req.url ?? '/', 'http://x');
  const path = url.pathname.split('/').map(decodeURIComponent);
  // /api/models/<owner>/<name>/revision/<rev>
  if (path[1] === 'api' && path[2] === 'models' && path[5] === 'revision') {
    authSeen.push(req.headers.authorization);
    const files = repos.get(`${path[3]}/${path[4]}`);
    if (!files) {
      res.writeHead(404, { 'x-error-code': 'RepoNotFound', 'x-error-message': 'Repository not found' }).end('{"error":"Repository not found"}');
      return;
    }
    if (path[6] !== 'main') {
      res.writeHead(404, { 'x-error-code': 'RevisionNotFound', 'x-error-message': `Invalid rev id: ${path[6]}` }).end();
      return;
    }
    const siblings = [...files].map(([rfilename, b]) => ({ rfilename, size: b.length }));
    if (path[3] === 'ghosts') siblings.push({ rfilename: 'ghost.gguf', size: 10 });
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ id: `${path[3]}/${path[4]}`, sha: 'abc', siblings }));
    return;
  }
  // LFS-style: resolve/ redirects the big files to a "CDN" path.
  if (path[1] === 'cdn') {
    serveFile(res, `${path[2]}/${path[3]}`, path.slice(4).join('/'));
    return;
  }
  // /<owner>/<name>/resolve/<rev>/<path…>
  if (path[3] === 'resolve' && path[4] === 'main') {
    const rel = path.slice(5).join('/');
    if (/\.(safetensors|gguf)$/.test(rel) && repos.get(`${path[1]}/${path[2]}`)?.has(rel)) {
      res.writeHead(302, { location: `/cdn/${path[1]}/${path[2]}/${rel.split('/').map(encodeURIComponent).join('/')}` }).end();
      return;
    }
    serveFile(res, `${path[1]}/${path[2]}`, rel);
    return;
  }
  res.writeHead(404).end();
}

function serveFile(res: ServerResponse, repo: string, rel: string): void {
  const b = repos.get(repo)?.get(rel);
  if (!b) {
    res.writeHead(404, { 'x-error-code': 'EntryNotFound', 'x-error-message': `${rel} does not exist on "main"` }).end();
    return;
  }
  if (repo === 'broken/model') {
    // Promises the whole file, sends half, hangs up.
    res.writeHead(200, { 'content-length': String(b.length) });
    res.write(b.subarray(0, b.length >> 1), () => res.destroy());
    return;
  }
  res.writeHead(200, { 'content-length': String(b.length), 'content-type': 'application/octet-stream' });
  // Several chunks, a little apart, so the stream really is streamed; 'slow/model' a second apart (a cancel lands mid-file).
  const step = Math.max(1, Math.ceil(b.length / 4));
  const gap = repo === 'slow/model' ? 1000 : 5;
  let off = 0;
  const next = (): void => {
    if (off >= b.length) {
      res.end();
      return;
    }
    res.write(b.subarray(off, off + step));
    off += step;
    setTimeout(next, gap);
  };
  next();
}

function listen(server: Server): Promise<string> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)));
}

describe('downloadModel from a local imitation of the Hugging Face Hub', () => {
  let server: Server;
  let endpoint: string;
  let root: string;
  let modelsDir: string;
  let lab: Lab;
  const events: DownloadEvent[] = [];
  const saved = { endpoint: process.env['HF_ENDPOINT'], token: process.env['HF_TOKEN'] };

  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'kvlab-hf-'));
    const m = randomModel({
      vocab: 300,
      hidden: 32,
      inter: 48,
      layers: 2,
      heads: 4,
      kvHeads: 2,
      headDim: 8,
      qkvBias: false,
      tied: false,
      ropeLayout: 'halves',
      ropeTheta: 10000,
      seed: 5,
      name: 'tiny-llama',
    });
    const src = join(root, 'src');
    writeHfFolder(join(src, 'hf'), m, { shards: 2 });
    writeGgufModel(join(src, 'tiny.gguf'), m);
    const hfFiles = new Map<string, Buffer>();
    for (const f of readdirSync(join(src, 'hf'))) hfFiles.set(f, readFileSync(join(src, 'hf', f)));
    hfFiles.set('README.md', Buffer.from('# tiny\n'));
    hfFiles.set('onnx/model.onnx', Buffer.from('not needed'));
    repos.set('test-org/tiny-llama', hfFiles);
    repos.set('test-org/tiny-gguf', new Map([['quants/tiny-Q8.gguf', readFileSync(join(src, 'tiny.gguf'))]]));
    repos.set('ghosts/tiny', new Map([['README.md', Buffer.from('nothing')]]));
    repos.set('broken/model', new Map([['x.gguf', readFileSync(join(src, 'tiny.gguf'))]]));
    repos.set('slow/model', new Map([['x.gguf', readFileSync(join(src, 'tiny.gguf'))]]));

    server = createServer(hub);
    endpoint = await listen(server);
    process.env['HF_ENDPOINT'] = endpoint;
    process.env['HF_TOKEN'] = 'hf_test_token';
    modelsDir = join(root, 'models');
    lab = createInProcessLab({ resultsDir: join(root, 'runs'), defaultModel: null, modelsDir });
    lab.onEvent((e) => {
      if (e.type === 'model.download') events.push(e);
    });
  });
  after(async () => {
    await lab.close();
    await new Promise((r) => server.close(r));
    for (const [k, v] of [
      ['HF_ENDPOINT', saved.endpoint],
      ['HF_TOKEN', saved.token],
    ] as const) {
      if (v === undefined) Reflect.deleteProperty(process.env, k);
      else process.env[k] = v;
    }
  });

  const download = (input: LabInput<'downloadModel'>) => lab.downloadModel(parseInput('downloadModel', input));

  it('validates the repo id and the file', () => {
    assert.throws(() => parseInput('downloadModel', { repo: 'no-slash' }), /owner\/name/);
    assert.throws(() => parseInput('downloadModel', { repo: 'a/../b' }));
    assert.throws(() => parseInput('downloadModel', { repo: 'a/b', file: 'model.safetensors' }), /\.gguf/);
    assert.throws(() => parseInput('downloadModel', { repo: 'a/b', file: '../x.gguf' }));
    assert.equal(parseInput('downloadModel', { repo: 'a/b' }).revision, 'main');
    assert.deepEqual(hfFolderFiles(['config.json', 'README.md', 'model.safetensors', 'onnx/model.onnx', 'model.safetensors.index.json']), [
      'config.json',
      'model.safetensors',
      'model.safetensors.index.json',
    ]);
  });

  it('a safetensors folder: the loader files land, progress is monotone and ends with done, the card is right', async () => {
    events.length = 0;
    const card = await download({ repo: 'test-org/tiny-llama' });
    const dir = join(modelsDir, 'test-org--tiny-llama');
    const want = [...(repos.get('test-org/tiny-llama')?.keys() ?? [])].filter((f) => f !== 'README.md' && !f.includes('/')).sort();
    assert.deepEqual(readdirSync(dir).sort(), want, 'the loader files, no README, no sub-folders, no .part left');
    for (const f of want) assert.ok(readFileSync(join(dir, f)).equals(repos.get('test-org/tiny-llama')?.get(f) ?? Buffer.alloc(0)), f);

    assert.equal(card.path, dir);
    assert.equal(card.id, modelIdFor(dir));
    assert.equal(card.format, 'hf');
    assert.equal(card.bundled, false);
    assert.deepEqual([card.layers, card.heads, card.kvHeads, card.headDim, card.vocabSize], [2, 4, 2, 8, 300]);
    assert.ok(
      (await lab.listModels({})).some((m) => m.id === card.id),
      'added to the list',
    );

    assert.ok(events.length >= 3, `${events.length} events`);
    const total = want.reduce((a, f) => a + statSync(join(dir, f)).size, 0);
    for (let i = 1; i < events.length; i++) {
      const [a, b] = [events[i - 1], events[i]];
      assert.ok(a && b && b.bytesDone >= a.bytesDone && b.bytesTotal >= a.bytesTotal, `monotone at ${i}`);
    }
    assert.ok(events.every((e) => e.repo === 'test-org/tiny-llama' && e.file === '' && e.bytesDone <= e.bytesTotal));
    assert.deepEqual(
      events.map((e) => e.done),
      [...new Array<boolean>(events.length - 1).fill(false), true],
    );
    const last = events.at(-1);
    assert.equal(last?.bytesDone, total);
    assert.equal(last?.bytesTotal, total);
    assert.equal(last?.error, undefined);
    assert.ok(
      authSeen.every((a) => a === 'Bearer hf_test_token'),
      'the token goes to the Hub',
    );
  });

  it('a .gguf file in a sub-folder (through the redirect) opens as GGUF; a second download reuses the files', async () => {
    events.length = 0;
    const card = await download({ repo: 'test-org/tiny-gguf', file: 'quants/tiny-Q8.gguf' });
    const path = join(modelsDir, 'test-org--tiny-gguf', 'quants', 'tiny-Q8.gguf');
    assert.equal(card.path, path);
    assert.equal(card.format, 'gguf');
    assert.ok(readFileSync(path).equals(repos.get('test-org/tiny-gguf')?.get('quants/tiny-Q8.gguf') ?? Buffer.alloc(0)));
    assert.equal(events.at(-1)?.done, true);
    assert.equal(events.at(-1)?.file, 'quants/tiny-Q8.gguf');

    const again = await downloadHfModel({ repo: 'test-org/tiny-gguf', file: 'quants/tiny-Q8.gguf', modelsDir });
    assert.equal(again.path, path);
  });

  it('404s are clear E_NOT_FOUND errors, and the download ends with an error event', async () => {
    events.length = 0;
    await rejectsWith(download({ repo: 'nobody/nothing' }), 'E_NOT_FOUND', /nobody\/nothing@main: no such repo, or it is private.*Repository not found/);
    assert.equal(events.at(-1)?.done, true);
    assert.match(events.at(-1)?.error ?? '', /no such repo/);
    await rejectsWith(download({ repo: 'test-org/tiny-llama', revision: 'v9' }), 'E_NOT_FOUND', /@v9: no such revision/);
    await rejectsWith(
      download({ repo: 'test-org/tiny-gguf', file: 'tiny-Q4.gguf' }),
      'E_NOT_FOUND',
      /has no file 'tiny-Q4\.gguf'; its \.gguf files: quants\/tiny-Q8\.gguf/,
    );
    // Listed, but resolve/ answers 404.
    await rejectsWith(download({ repo: 'ghosts/tiny', file: 'ghost.gguf' }), 'E_NOT_FOUND', /ghost\.gguf: no such file in the repo/);
    await rejectsWith(download({ repo: 'ghosts/tiny' }), 'E_MODEL', /not a Hugging Face safetensors model.*ghost\.gguf/);
    assert.ok(!existsSync(join(modelsDir, 'ghosts--tiny', 'ghost.gguf.part')));
  });

  it('a transfer that breaks off leaves no file behind', async () => {
    await rejectsWith(download({ repo: 'broken/model', file: 'x.gguf' }), 'E_NOT_FOUND', /cannot reach 127\.0\.0\.1:\d+: the transfer of x\.gguf broke off/);
    assert.deepEqual(readdirSync(join(modelsDir, 'broken--model')), []);
  });

  it('a download given a requestId stops at cancelCall mid-file: E_CANCELLED, one final error event, no file left', async () => {
    events.length = 0;
    const requestId = 'dl-1';
    const off = lab.onEvent((e) => {
      if (e.type === 'model.download' && e.bytesDone > 0 && !e.done) void lab.cancelCall({ requestId });
    });
    const t0 = Date.now();
    try {
      await rejectsWith(download({ repo: 'slow/model', file: 'x.gguf', requestId }), 'E_CANCELLED', /cancelled/);
    } finally {
      off();
    }
    assert.ok(Date.now() - t0 < 2500, `stopped mid-file (${Date.now() - t0} ms; the whole file takes over 3 s)`);
    assert.equal(events.filter((e) => e.done).length, 1);
    assert.match(events.at(-1)?.error ?? '', /cancelled/);
    assert.ok((events.at(-1)?.bytesDone ?? 0) < (events.at(-1)?.bytesTotal ?? 0), 'part of the file');
    assert.deepEqual(readdirSync(join(modelsDir, 'slow--model')), []);
    assert.deepEqual(await lab.cancelCall({ requestId }), { cancelled: false });
  });

  it('an unreachable Hub gives the offline message', async () => {
    const closed = createServer();
    const dead = await listen(closed);
    await new Promise((r) => closed.close(r));
    await rejectsWith(
      downloadHfModel({ repo: 'test-org/tiny-llama', modelsDir, endpoint: dead }),
      'E_NOT_FOUND',
      /^cannot reach 127\.0\.0\.1:\d+: .*ECONNREFUSED/,
    );
    process.env['HF_ENDPOINT'] = dead;
    try {
      events.length = 0;
      await rejectsWith(download({ repo: 'test-org/tiny-llama' }), 'E_NOT_FOUND', /^cannot reach 127\.0\.0\.1:\d+: /);
      assert.match(events.at(-1)?.error ?? '', /cannot reach/);
    } finally {
      process.env['HF_ENDPOINT'] = endpoint;
    }
  });
});
