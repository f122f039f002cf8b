/** The `kvlab` command: real processes, real exit codes, one-line errors. */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { readRows } from '../../electron/experiments/store.ts';
import { sharedPath } from '../engine/shared-data.ts';

const BIN = join(import.meta.dirname, '../../electron/cli/kvlab.mjs');
const kvlab = (...args: string[]) =>
  spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { ...process.env, KVLAB_CACHE: mkdtempSync(join(tmpdir(), 'kvlab-cli-')) } });

describe('kvlab CLI', () => {
  it('refuses unknown commands and missing files with one line and a non-zero exit', () => {
    const a = kvlab('frobnicate');
    assert.equal(a.status, 2);
    assert.match(a.stderr, /^kvlab: unknown command 'frobnicate'\n/);
    const b = kvlab('run', '/nonexistent/exp.json');
    assert.equal(b.status, 2);
    assert.match(b.stderr, /^kvlab: \/nonexistent\/exp.json: no such file/);
  });

  it('serve: --tls-cert and --tls-key go together, and a missing PEM file is one line naming it, before anything starts', () => {
    const a = kvlab('serve', '--tls-cert', '/nonexistent/cert.pem');
    assert.equal(a.status, 2);
    assert.match(a.stderr, /^kvlab: --tls-cert and --tls-key go together: give both PEM files\n/);
    const b = kvlab('serve', '--no-build', '--tls-cert', '/nonexistent/cert.pem', '--tls-key', '/nonexistent/key.pem');
    assert.equal(b.status, 1);
    assert.equal(b.stderr, 'kvlab: /nonexistent/cert.pem: --tls-cert no such file; give the certificate as a PEM file\n');
  });

  it('reports every problem of an invalid experiment', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kvlab-cli-'));
    const file = join(dir, 'bad.json');
    writeFileSync(file, JSON.stringify({ name: 'bad', models: ['m.gguf'], methods: ['snapkv/nonsense'], budgets: ['20%'], workloads: [] }));
    const r = kvlab('run', file);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /methods\.0: unknown allocator 'nonsense'/);
    assert.match(r.stderr, /workloads/);
  });

  it('Ctrl-C (SIGINT) finishes the cell in flight, keeps the results, exits 130 and says how to resume', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kvlab-int-'));
    const file = join(dir, 'exp.json');
    writeFileSync(
      file,
      JSON.stringify({
        name: 'int',
        models: [sharedPath('models/stories260K/stories260K.gguf')],
        methods: ['full', 'snapkv/zigzagkv', 'h2o'],
        budgets: ['25%', '50%'],
        workloads: [{ kind: 'niah', variant: 'single', contextLengths: [256], depths: [0, 50, 100] }],
        engine: { threads: 1 },
      }),
    );
    const child = spawn(process.execPath, [BIN, 'run', file, '--out', join(dir, 'out')], {
      env: { ...process.env, KVLAB_CACHE: mkdtempSync(join(tmpdir(), 'kvlab-cli-')) },
    });
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    const results = join(dir, 'out', 'results.jsonl');
    const t0 = Date.now();
    while (!(existsSync(results) && readFileSync(results, 'utf8').split('\n').length > 2)) {
      if (Date.now() - t0 > 120_000) throw new Error('no rows');
      await new Promise((r) => setTimeout(r, 20));
    }
    child.kill('SIGINT');
    const code = await new Promise((r) => child.once('exit', r));
    assert.equal(code, 130);
    assert.match(stdout, /^cancelled: \d+ cells run/m);
    assert.match(stdout, /resume with: kvlab run /);
    const kept = readRows(join(dir, 'out')).length;
    assert.ok(kept >= 2 && kept < 15, `${kept} rows kept`);
  });

  it('lists the method registry', () => {
    const r = kvlab('methods');
    assert.equal(r.status, 0);
    for (const id of ['snapkv', 'h2o', 'streamingllm', 'tova', 'knorm', 'random', 'uniform', 'pyramidkv', 'zigzagkv', 'cake', 'adakv'])
      assert.match(r.stdout, new RegExp(`\\b${id}\\b`));
  });

  it('profiles LMBA and LMBO per layer of stories260K and stores profile rows', () => {
    const out = join(mkdtempSync(join(tmpdir(), 'kvlab-prof-')), 'p');
    const r = kvlab('profile', sharedPath('models/stories260K/stories260K.gguf'), '--samples', '2', '--tokens', '128', '--out', out);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /layer {3}LMBA {3}uncertainty {3}LMBO/);
    const rows = readRows(out);
    assert.equal(rows.length, 2);
    const lmba = rows[0]?.['lmba'] as number[];
    assert.equal(lmba.length, 5);
    assert.ok(lmba.every((v) => v >= 1 && v <= 128));
    assert.equal((rows[0]?.['lmbo'] as number[]).length, 5);
    // Off a terminal, progress is a line a minute at most: this profile of seconds prints its first.
    const progress = r.stderr.split('\n').filter((l) => l.startsWith('prompt '));
    assert.deepEqual(progress, ['prompt 1 of 2: sampling token 2 of 128'], r.stderr);
    const bad = kvlab('profile', sharedPath('models/stories260K/stories260K.gguf'), '--kv-type', 'f8');
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /^kvlab: --kv-type must be f32 or f16, got f8\n/);
  });

  it('profile: Ctrl-C stops at the next chunk, token or layer, keeps the prompts profiled, exits 130 and says so; SIGTERM exits 143', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'kvlab-prof-int-')), 'p');
    const args = [
      'profile',
      sharedPath('models/stories260K/stories260K.gguf'),
      '--text',
      sharedPath('texts/austen-emma.txt'),
      '--samples',
      '400',
      '--tokens',
      '256',
    ];
    const child = spawn(process.execPath, [BIN, ...args, '--out', out], { env: { ...process.env, KVLAB_CACHE: mkdtempSync(join(tmpdir(), 'kvlab-cli-')) } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const results = join(out, 'results.jsonl');
    const t0 = Date.now();
    while (!(existsSync(results) && readFileSync(results, 'utf8').split('\n').length > 2)) {
      if (Date.now() - t0 > 120_000) throw new Error(`no rows: ${stderr}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    child.kill('SIGINT');
    const code = await new Promise((r) => child.once('exit', r));
    assert.equal(code, 130, stderr);
    const [, done] = /^cancelled: (\d+) of 400 prompts profiled → /m.exec(stdout) ?? [];
    assert.ok(Number(done) >= 2 && Number(done) < 400, stdout);
    assert.match(stderr, /^cancelling at the next prefill chunk, token or layer/m);
    assert.equal(readRows(out).length, Number(done), 'every profiled prompt is stored');
    assert.match(stdout, /layer {3}LMBA {3}uncertainty {3}LMBO/, 'the table of the prompts profiled');

    // SIGTERM (a service manager, `kill`): the same stop, with 128 + 15.
    const term = spawn(process.execPath, [BIN, ...args, '--out', `${out}-term`], {
      env: { ...process.env, KVLAB_CACHE: mkdtempSync(join(tmpdir(), 'kvlab-cli-')) },
    });
    let termOut = '';
    term.stdout.on('data', (d: Buffer) => (termOut += d.toString()));
    const termRows = join(`${out}-term`, 'results.jsonl');
    const t1 = Date.now();
    while (!(existsSync(termRows) && readFileSync(termRows, 'utf8').split('\n').length > 2)) {
      if (Date.now() - t1 > 120_000) throw new Error('no rows');
      await new Promise((r) => setTimeout(r, 20));
    }
    term.kill('SIGTERM');
    assert.equal(await new Promise((r) => term.once('exit', r)), 143);
    assert.match(termOut, /^cancelled: \d+ of 400 prompts profiled → /m);
  });
});
