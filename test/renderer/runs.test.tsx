/** The Runs screen: the progress bar follows the fake engine's events, Cancel and Resume call the API, rows and logs stream into virtualised lists. */
import './dom.ts';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fireEvent, screen } from '@testing-library/react';
import { FAKE_SMALL_EXPERIMENT } from '../../renderer/src/api/fake.ts';
import { RunsScreen } from '../../renderer/src/screens/Runs.tsx';
import { settle, setup, step } from './render.tsx';

async function withRun() {
  const h = await setup();
  const run = await h.store.getState().startRun(FAKE_SMALL_EXPERIMENT);
  assert.ok(run);
  h.render(<RunsScreen />);
  await settle();
  return { h, run };
}

test('the progress bar, counters and current cell update from the fake engine events', async () => {
  const { h, run } = await withRun();
  const bar = screen.getByTestId('run-progress');
  assert.equal(bar.getAttribute('aria-valuenow'), '0');
  assert.equal(bar.getAttribute('aria-valuemax'), String(run.cellsTotal));
  assert.equal(screen.getByTestId('run-detail').querySelector('[data-testid="run-status"]')?.textContent, 'queued');

  step(h, 12);
  assert.equal(screen.getByTestId('run-progress').getAttribute('aria-valuenow'), '12');
  assert.match(screen.getByTestId('run-cells').textContent ?? '', /^12 \/ 60 cells \(20%\)/);
  assert.match(screen.getByTestId('run-eta').textContent ?? '', /^ETA \d/);
  assert.match(screen.getByTestId('run-rate').textContent ?? '', /tok\/s$/);
  assert.match(screen.getByTestId('run-current').textContent ?? '', /@/);
  assert.equal(screen.getByTestId('run-rows').getAttribute('data-count'), '12');
  assert.ok(screen.getByTestId('run-summary').textContent?.includes('snapkv/zigzagkv'));
  assert.equal(screen.getByTestId('run-summary-title').textContent, 'By method and budget (so far)');

  step(h, 1000);
  assert.equal(screen.getByTestId('run-summary-title').textContent, 'By method and budget', 'no "so far" once the run is done');
  // One line per (method, budget) the run has: the full cache, and 3 methods × 3 budgets.
  assert.equal(screen.getByTestId('run-summary').querySelectorAll('tbody tr').length, 1 + 3 * 3);
  assert.equal(screen.getByTestId('run-progress').getAttribute('aria-valuenow'), '60');
  assert.equal(screen.getByTestId('run-detail').querySelector('[data-testid="run-status"]')?.textContent, 'done');
  assert.equal((screen.getByTestId('run-cancel') as HTMLButtonElement).disabled, true);
  assert.equal((screen.getByTestId('run-compare') as HTMLButtonElement).disabled, false);
});

test('Cancel calls cancelRun, the run stops; Resume re-queues it and it finishes', async () => {
  const { h, run } = await withRun();
  step(h, 5);
  fireEvent.click(screen.getByTestId('run-cancel'));
  await settle();
  assert.ok(h.fake.calls.some((c) => c.method === 'cancelRun' && (c.input as { runId: string }).runId === run.id));
  assert.equal(screen.getByTestId('run-detail').querySelector('[data-testid="run-status"]')?.textContent, 'cancelled');
  step(h, 5);
  assert.equal(screen.getByTestId('run-progress').getAttribute('aria-valuenow'), '5');
  assert.ok(Number(screen.getByTestId('run-logs').getAttribute('data-count')) > 0);

  fireEvent.click(screen.getByTestId('run-resume'));
  await settle();
  assert.ok(h.fake.calls.some((c) => c.method === 'resumeRun'));
  step(h, 1000);
  assert.equal(screen.getByTestId('run-progress').getAttribute('aria-valuenow'), '60');
});

test('long lists are virtualised: 1 000 log lines render only the visible rows', async () => {
  const { h, run } = await withRun();
  step(h, 0);
  const { act } = await import('@testing-library/react');
  act(() => {
    for (let i = 0; i < 1000; i++)
      h.fake.emit({ type: 'run.log', runId: run.id, line: { time: new Date(0).toISOString(), level: 'info', message: `line ${i}` } });
  });
  const logs = screen.getByTestId('run-logs');
  assert.ok(Number(logs.getAttribute('data-count')) >= 1000);
  const rendered = logs.querySelectorAll('.vlist-row').length;
  assert.ok(rendered > 0 && rendered < 40, `rendered ${rendered} rows`);
});
