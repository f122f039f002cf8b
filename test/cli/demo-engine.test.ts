/**
 * `npm run demo:engine` on stories260K as a real process: the two failures of
 * issues #15 and #17 — a BOS-only prompt with ZigZagKV (shorter than its
 * observation window) and the README's 20 % of a 17-token prompt (below the
 * 9 tokens per layer SnapKV keeps) — run, print one `note:` line, and report
 * what the cache really holds.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { sharedPath } from '../engine/shared-data.ts';

const CLI = join(import.meta.dirname, '../../electron/cli/demo-engine.ts');
const cache = mkdtempSync(join(tmpdir(), 'kvlab-demo-'));
const demo = (...args: string[]) =>
  spawnSync(process.execPath, ['--import', 'tsx', CLI, '--model', sharedPath('models/stories260K/stories260K.gguf'), ...args], {
    encoding: 'utf8',
    env: { ...process.env, KVLAB_CACHE: cache },
  });
/** The generated text: everything before the summary. */
const text = (stdout: string) => stdout.split('\n--- ')[0] ?? '';

describe('demo:engine', () => {
  it('a BOS-only prompt with ZigZagKV runs and gives the full run: the prompt is all window (#15)', () => {
    const full = demo('--method', 'full', '--max-tokens', '60');
    const zz = demo('--method', 'zigzagkv', '--max-tokens', '60');
    assert.equal(zz.status, 0, zz.stderr);
    assert.equal(zz.stderr, '');
    assert.equal(text(zz.stdout), text(full.stdout));
    assert.ok(text(zz.stdout).length > 100);
    const notes = zz.stdout.split('\n').filter((l) => l.startsWith('note: '));
    assert.equal(notes.length, 1);
    assert.match(
      notes[0] ?? '',
      /^note: budget 20% = 1 token over 5 layers is below what snapkv\/zigzagkv can keep of this 1-token prompt.*kept the full cache \(5 tokens\)$/,
    );
    assert.match(zz.stdout, /KV held after prefill: .* \(100\.0 %\)/);
  });

  it('the README example: 20 % of a 17-token prompt is raised to 9 tokens per layer, with one note, and the bytes say so (#17)', () => {
    const r = demo('--method', 'snapkv/zigzagkv', '--budget', '20%', '--prompt', 'Once upon a time, there was a little dog named Max.', '--max-tokens', '16');
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, '');
    const notes = r.stdout.split('\n').filter((l) => l.startsWith('note: '));
    assert.deepEqual(notes, [
      'note: budget 20% = 17 tokens over 5 layers is below what snapkv/zigzagkv can keep of this 17-token prompt; the minimum is 45 (5 layers × 9: 8-token window + 1): raised to 45',
    ]);
    assert.match(r.stdout, /nominal: 45 tokens over 5 layers \(52\.9 % of the prompt cache\)/);
    for (let l = 0; l < 5; l++) assert.match(r.stdout, new RegExp(`\\n\\s+${l}\\s+9\\s+9 9 9 9\\n`));
    assert.match(r.stdout, /KV held after prefill: .* \(52\.9 %\)/);
  });

  it('asked for more tokens than memory can hold, it says so with the figures before the prefill instead of being killed', () => {
    const r = demo('--max-tokens', '100000000');
    assert.equal(r.status, 1, r.stderr);
    assert.match(
      r.stderr,
      /^demo:engine: .*stories260K\.gguf: the prompt \(1 prompt \+ 100,000,000 decoded tokens\) needs about 119\.2 GiB of f32 KV cache \(1\.3 KiB per token\) beyond the loaded model, but only .* is available — pass --kv-type f16 to halve it, or use a shorter prompt or fewer --max-tokens$/m,
    );
  });

  it("--ort-profile writes onnxruntime's profile of every run and says where", () => {
    const prefix = join(mkdtempSync(join(tmpdir(), 'kvlab-demo-prof-')), 'demo');
    const r = demo('--method', 'full', '--max-tokens', '4', '--ort-profile', prefix);
    assert.equal(r.status, 0, r.stderr);
    const path = /^onnxruntime profile \(every run's kernels, in execution order\): (.+)$/m.exec(r.stdout)?.[1];
    assert.ok(path, r.stdout);
    assert.ok(path.startsWith(`${prefix}_`), path);
    const events = JSON.parse(readFileSync(path, 'utf8')) as { name: string; cat?: string }[];
    // A 1-token prefill and three decode steps: four runs, each with its kernels.
    assert.equal(events.filter((e) => e.name === 'model_run').length, 4);
    assert.ok(events.some((e) => e.cat === 'Node' && e.name.endsWith('_kernel_time')));
  });
});
