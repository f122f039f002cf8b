import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { appendFileSync, existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { LOCK_FILE, LockError, readRows, RESULTS_FILE, ResultsStore, StoreError } from '../../electron/experiments/store.ts';

const fresh = () => mkdtempSync(join(tmpdir(), 'kvlab-store-'));

describe('results store', () => {
  it('appends rows durably and knows which cells are done after reopening', () => {
    const dir = fresh();
    const s = ResultsStore.open(dir, { name: 'x' }, 'h1');
    s.append({ cellId: 'a', experimentHash: 'h1', score: 1 });
    s.append({ cellId: 'b', experimentHash: 'h1', score: 0.5 });
    s.close();
    const again = ResultsStore.open(dir, { name: 'x' }, 'h1');
    assert.ok(again.has('a') && again.has('b') && !again.has('c'));
    assert.deepEqual(
      readRows(dir).map((r) => r.cellId),
      ['a', 'b'],
    );
    assert.throws(() => again.append({ cellId: 'a', experimentHash: 'h1' }), StoreError);
    again.close();
  });

  it('refuses a folder holding another experiment', () => {
    const dir = fresh();
    ResultsStore.open(dir, {}, 'h1').close();
    assert.throws(
      () => ResultsStore.open(dir, {}, 'h2'),
      (e: unknown) => e instanceof StoreError && /different experiment/.test(e.message),
    );
  });

  it('cuts a torn last line (a write interrupted by a kill) and keeps appending cleanly', () => {
    const dir = fresh();
    const s = ResultsStore.open(dir, {}, 'h');
    s.append({ cellId: 'a', experimentHash: 'h' });
    s.close();
    appendFileSync(join(dir, RESULTS_FILE), '{"cellId":"b","experimentHa');
    const t = ResultsStore.open(dir, {}, 'h');
    assert.equal(t.size, 1);
    t.append({ cellId: 'b', experimentHash: 'h' });
    t.close();
    assert.equal(readFileSync(join(dir, RESULTS_FILE), 'utf8').split('\n').filter(Boolean).length, 2);
    assert.deepEqual(
      readRows(dir).map((r) => r.cellId),
      ['a', 'b'],
    );
  });

  it('names the line of a corrupt row in the middle of the log', () => {
    const dir = fresh();
    ResultsStore.open(dir, {}, 'h').close();
    writeFileSync(join(dir, RESULTS_FILE), '{"cellId":"a","experimentHash":"h"}\nnot json\n{"cellId":"c","experimentHash":"h"}\n');
    assert.throws(() => readRows(dir), /line 2 is not valid JSON/);
  });

  it('has one writer at a time: a second open is refused with LockError, close (also after a failed open) lets the next in', () => {
    const dir = fresh();
    const s = ResultsStore.open(dir, {}, 'h', { command: 'kvlab run a.json' });
    assert.throws(
      () => ResultsStore.open(dir, {}, 'h'),
      (e: unknown) => e instanceof LockError && /is being written by pid \d+ on host .+ \(kvlab run a\.json\); wait for it or stop it$/.test(e.message),
    );
    s.close();
    s.close(); // idempotent
    assert.equal(existsSync(join(dir, LOCK_FILE)), false);
    assert.throws(() => ResultsStore.open(dir, {}, 'other'), /different experiment/);
    assert.equal(existsSync(join(dir, LOCK_FILE)), false, 'a refused open releases the lock it took');
    ResultsStore.open(dir, {}, 'h').close();
  });

  it('readers are never blocked by a writer and never cut its row in flight', () => {
    const dir = fresh();
    const s = ResultsStore.open(dir, {}, 'h');
    s.append({ cellId: 'a', experimentHash: 'h' });
    // The writer's next row, half on disk.
    appendFileSync(join(dir, RESULTS_FILE), '{"cellId":"b","exp');
    const size = statSync(join(dir, RESULTS_FILE)).size;
    assert.deepEqual(
      readRows(dir).map((r) => r.cellId),
      ['a'],
    );
    assert.equal(statSync(join(dir, RESULTS_FILE)).size, size, 'the reader left the torn row alone');
    s.close();
  });

  it('a complete but unparseable LAST line (blocks lost in a power cut) is torn too: readers skip it, the next writer cuts it', () => {
    const dir = fresh();
    const s = ResultsStore.open(dir, {}, 'h');
    s.append({ cellId: 'a', experimentHash: 'h' });
    s.close();
    appendFileSync(join(dir, RESULTS_FILE), Buffer.concat([Buffer.alloc(40), Buffer.from('e"}\n')]));
    assert.deepEqual(
      readRows(dir).map((r) => r.cellId),
      ['a'],
    );
    const t = ResultsStore.open(dir, {}, 'h');
    t.append({ cellId: 'b', experimentHash: 'h' });
    t.close();
    assert.equal(readFileSync(join(dir, RESULTS_FILE), 'utf8'), '{"cellId":"a","experimentHash":"h"}\n{"cellId":"b","experimentHash":"h"}\n');
  });

  it('a writer whose lock was taken over stops before writing a row', () => {
    const dir = fresh();
    const s = ResultsStore.open(dir, {}, 'h');
    s.append({ cellId: 'a', experimentHash: 'h' });
    // What a taker on another host writes once it judged this writer stale.
    writeFileSync(
      join(dir, LOCK_FILE),
      JSON.stringify({ pid: 7, host: 'elsewhere', bootId: '', since: new Date().toISOString(), command: 'kvlab run', token: 't' }),
    );
    assert.throws(
      () => s.append({ cellId: 'b', experimentHash: 'h' }),
      (e: unknown) => e instanceof LockError && /taken over/.test(e.message),
    );
    s.close();
    assert.deepEqual(
      readRows(dir).map((r) => r.cellId),
      ['a'],
    );
    assert.ok(existsSync(join(dir, LOCK_FILE)), "closing leaves the new holder's lock alone");
  });

  it('loses at most the row in flight when the writer is killed with SIGKILL', async () => {
    const dir = fresh();
    const script = `
      import { ResultsStore } from ${JSON.stringify(join(import.meta.dirname, '../../electron/experiments/store.ts'))};
      const s = ResultsStore.open(${JSON.stringify(dir)}, {}, 'h');
      for (let i = 0; ; i++) { s.append({ cellId: 'c' + i, experimentHash: 'h', pad: 'x'.repeat(5000) }); if (i === 20) process.send?.('ready'); }
    `;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    await new Promise<void>((resolve) => child.once('message', () => resolve()));
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    const s = ResultsStore.open(dir, {}, 'h');
    const ids = s.rows().map((r) => r.cellId);
    assert.ok(ids.length >= 21);
    assert.deepEqual(
      ids,
      ids.map((_, i) => `c${i}`),
      'a gap-free prefix of the rows written',
    );
    s.append({ cellId: 'after', experimentHash: 'h' });
    s.close();
    assert.equal(readRows(dir).at(-1)?.cellId, 'after');
  });
});
