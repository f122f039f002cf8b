/**
 * Where `kvlab run` puts results (issue #17): results/<experiment name>/
 * under the working directory — never beside the experiment file, which may
 * sit in a checkout (docs/examples/) — and --out wherever it says. A real
 * process on stories260K; its own file apart from kvlab.test.ts.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { readRows } from '../../electron/experiments/store.ts';
import { sharedPath } from '../engine/shared-data.ts';

const BIN = join(import.meta.dirname, '../../electron/cli/kvlab.mjs');

describe('kvlab run: where results go', () => {
  it('writes results/<name>/ (shards results/<name>.shard<i>of<n>/) under the working directory, nothing beside the experiment', () => {
    const cwd = mkdtempSync(join(tmpdir(), 'kvlab-cwd-'));
    const exps = join(cwd, 'docs', 'examples');
    mkdirSync(exps, { recursive: true });
    writeFileSync(
      join(exps, 'tiny.json'),
      JSON.stringify({
        name: 'tiny',
        models: [sharedPath('models/stories260K/stories260K.gguf')],
        methods: ['full'],
        budgets: ['50%'],
        workloads: [{ kind: 'niah', variant: 'single', contextLengths: [256], depths: [0, 100] }],
        engine: { threads: 1 },
      }),
    );
    const env = { ...process.env, KVLAB_CACHE: mkdtempSync(join(tmpdir(), 'kvlab-cli-')) };
    const run = (...args: string[]) => spawnSync(process.execPath, [BIN, 'run', ...args], { cwd, encoding: 'utf8', env });

    const r = run('docs/examples/tiny.json');
    assert.equal(r.status, 0, r.stderr);
    assert.ok(r.stdout.includes(`→ ${join(cwd, 'results', 'tiny')}`), r.stdout);
    assert.equal(readRows(join(cwd, 'results', 'tiny')).length, 2 + 1);
    assert.deepEqual(readdirSync(exps), ['tiny.json'], 'nothing written beside the experiment file');

    const s = run('docs/examples/tiny.json', '--shard', '1/2');
    assert.equal(s.status, 0, s.stderr);
    assert.equal(readRows(join(cwd, 'results', 'tiny.shard1of2')).filter((x) => x['kind'] === 'cell').length, 1);

    const o = run('docs/examples/tiny.json', '--out', 'elsewhere');
    assert.equal(o.status, 0, o.stderr);
    assert.ok(existsSync(join(cwd, 'elsewhere', 'results.jsonl')));
    assert.deepEqual(readdirSync(join(cwd, 'results')).sort(), ['tiny', 'tiny.shard1of2']);
  });

  it('the checkout ignores results/ (where `npm run kvlab -- run` writes)', () => {
    const ignore = readFileSync(join(import.meta.dirname, '../../.gitignore'), 'utf8').split('\n');
    assert.ok(ignore.includes('/results/'));
  });
});
