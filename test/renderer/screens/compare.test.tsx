/**
 * The Compare screen on a run of the typed fake (its rows have core's exact
 * shape) and on the CLI report's fixture: the charts show one series per
 * method and one heatmap per method with a cell per (depth, length), the
 * Δ-heatmap follows the chosen methods, a click opens the sample panel, and
 * sanity-guard warnings are listed.
 */
import '../dom.ts';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { act, cleanup, fireEvent, within } from '@testing-library/react';
import type { AnyRow } from '@kvlab/core';
import { FAKE_SMALL_EXPERIMENT } from '../../../renderer/src/api/fake.ts';
import { CompareScreen } from '../../../renderer/src/screens/Compare.tsx';
import { rows as fixtureRows, ZZ } from '../charts/fixture.ts';
import { settle, setup, type Harness } from '../render.tsx';

/** The screen on a seeded run of the fake, selected in the store as the Runs screen selects it. */
async function fakeRun(record = false): Promise<{ h: Harness; api: Harness['fake']; runId: string }> {
  const h = await setup({ seedRuns: [{ name: 'seeded', experiment: { ...FAKE_SMALL_EXPERIMENT, ...(record ? { record: { kept: true } } : {}) } }] });
  const [run] = h.store.getState().runs;
  assert.ok(run);
  act(() => h.store.getState().selectRun(run.id));
  await settle();
  assert.ok((h.store.getState().rows[run.id] ?? []).length > 0, 'the run is loaded');
  return { h, api: h.fake, runId: run.id };
}

/** The screen on rows that are not a run of the fake (the report's fixture, a broken row). */
async function onRows(runId: string, rows: readonly AnyRow[]): Promise<Harness> {
  const h = await setup();
  act(() => h.store.setState((s) => ({ selectedRunId: runId, rows: { ...s.rows, [runId]: [...rows] } })));
  return h;
}

const METHODS = ['full', 'snapkv/uniform', 'snapkv/pyramidkv', 'snapkv/zigzagkv'];

describe('CompareScreen', () => {
  it('draws the fake run: a Pareto series per method, a heatmap per method, the Δ-map, per-layer bars', async () => {
    const { h } = await fakeRun();
    const r = h.render(<CompareScreen />);
    const pareto = r.getByTestId('compare-pareto');
    const series = new Set(
      within(pareto)
        .getAllByTestId('pareto-point')
        .map((p) => p.getAttribute('data-series')),
    );
    assert.deepEqual([...series].sort(), [...METHODS].sort());
    for (const m of METHODS) {
      const h = r.getByTestId(`compare-heatmap-${m}`);
      assert.equal(within(h).getAllByTestId('heatmap-cell').length, 2 * 3, m); // 2 lengths × 3 depths
    }
    const delta = r.getByTestId('compare-delta');
    assert.equal(within(delta).getAllByTestId('delta-cell').length, 6);
    assert.match(delta.querySelector('.kv-chart-title')?.textContent ?? '', /^Δ snapkv\/pyramidkv @ 10% − full$/);
    fireEvent.change(r.getByTestId('compare-delta-b'), { target: { value: 'snapkv/zigzagkv' } });
    assert.match(r.getByTestId('compare-delta').querySelector('.kv-chart-title')?.textContent ?? '', /− snapkv\/zigzagkv @ 10%$/);
    const bars = within(r.getByTestId('compare-layer-bars')).getAllByTestId('budget-bar');
    assert.ok(bars.length > 0);
    assert.deepEqual([...new Set(bars.map((b) => b.getAttribute('data-series')))], ['pyramidkv', 'uniform', 'zigzagkv']);
    assert.equal(r.queryByTestId('compare-fidelity'), null, 'the fake sweep has no fidelity workload');
  });

  it('changing the NIAH budget redraws the heatmaps at that budget', async () => {
    const { h } = await fakeRun();
    const r = h.render(<CompareScreen />);
    fireEvent.change(r.getByTestId('compare-niah-budget'), { target: { value: '40%' } });
    assert.equal(r.getByTestId('compare-heatmap-snapkv/uniform').querySelector('.kv-chart-title')?.textContent, 'snapkv/uniform @ 40%');
    // The pick is the store's: leaving the screen and coming back keeps it.
    cleanup();
    const again = h.render(<CompareScreen />);
    assert.equal(again.getByTestId('compare-heatmap-snapkv/uniform').querySelector('.kv-chart-title')?.textContent, 'snapkv/uniform @ 40%');
  });

  it('a heatmap click opens the sample panel with the sample, its prediction and the retention map', async () => {
    const { h } = await fakeRun(true);
    const r = h.render(<CompareScreen />);
    assert.equal(r.queryByTestId('sample-panel'), null);
    const cell = within(r.getByTestId('compare-heatmap-snapkv/zigzagkv')).getAllByTestId('heatmap-cell')[0];
    fireEvent.click(cell as Element);
    const panel = r.getByTestId('sample-panel');
    assert.match(within(panel).getByTestId('sample-count').textContent ?? '', /^1 cell$/);
    assert.equal(within(panel).getByTestId('sample-answer').textContent, '71432');
    assert.match(within(panel).getByTestId('sample-prediction').textContent ?? '', /passkey/);
    assert.ok(within(panel).getByTestId('retention-map').getAttribute('data-layers'));
    fireEvent.click(within(panel).getByTestId('sample-panel-close'));
    assert.equal(r.queryByTestId('sample-panel'), null);
  });

  it('a selected cell shows its prompt from getSample (fetched once per sample) with the retention overlay and its layer slider', async () => {
    const { h, api, runId } = await fakeRun(true);
    const r = h.render(<CompareScreen />);
    const cell = within(r.getByTestId('compare-heatmap-snapkv/zigzagkv')).getAllByTestId('heatmap-cell')[0];
    fireEvent.click(cell as Element);
    const panel = r.getByTestId('sample-panel');
    // The cell id is the runner's m<model>/<sample id>/<label>/<budget>: the sample id is its row's.
    const cellId = within(panel).getByTestId('sample-detail').getAttribute('data-cell');
    const shown = (h.store.getState().rows[runId] ?? []).find((x) => x.cellId === cellId);
    const sampleId = shown?.kind === 'cell' ? shown.sampleId : '';
    const expected = await api.getSample({ runId, sampleId });
    const prompt = await within(panel).findByTestId('sample-prompt');
    assert.equal(prompt.textContent, expected.prompt);
    assert.match(prompt.textContent ?? '', /passkey is 71432/);
    const overlay = within(panel).getByTestId('sample-retention-overlay');
    assert.ok(overlay.textContent?.includes('71432'));
    const slider = within(panel).getByTestId('sample-layer');
    fireEvent.change(slider, { target: { value: '1' } });
    assert.equal(within(panel).getByTestId('sample-layer-value').textContent, '1');
    // Closing and reopening the same cell answers from the cache.
    const asked = () => api.calls.filter((c) => c.method === 'getSample').length;
    const before = asked();
    fireEvent.click(within(panel).getByTestId('sample-panel-close'));
    fireEvent.click(within(r.getByTestId('compare-heatmap-snapkv/zigzagkv')).getAllByTestId('heatmap-cell')[0] as Element);
    await within(r.getByTestId('sample-panel')).findByTestId('sample-prompt');
    assert.equal(asked(), before);
  });

  it('on the report fixture: fidelity curves, the not-compressed and state-leak warnings, flagged marks', async () => {
    const h = await onRows('fixture', fixtureRows);
    const r = h.render(<CompareScreen />);
    const sanity = r.getByTestId('compare-sanity');
    assert.equal(sanity.getAttribute('role'), 'alert');
    assert.deepEqual(
      [...sanity.querySelectorAll('li')].map((li) => li.getAttribute('data-flag')),
      ['not-compressed', 'state-leak'],
    );
    // The Pareto workload picker starts on 'fidelity' (sorted first); the fidelity curves are drawn.
    assert.equal(within(r.getByTestId('compare-fidelity')).getAllByTestId('fidelity-point').length, 9);
    fireEvent.change(r.getByTestId('compare-pareto-workload'), { target: { value: 'niah-single' } });
    const flagged = within(r.getByTestId('compare-pareto'))
      .getAllByTestId('pareto-point')
      .filter((p) => p.getAttribute('data-flags'));
    assert.deepEqual(
      flagged.map((p) => `${p.getAttribute('data-series')}@${p.getAttribute('data-budget')}`),
      [`${ZZ}@10%`],
    );
    const zzCells = within(r.getByTestId(`compare-heatmap-${ZZ}`)).getAllByTestId('heatmap-cell');
    assert.equal(zzCells.filter((c) => c.getAttribute('data-flagged') === 'true').length, 1);
    // Opening the warning's example shows the flag's explanation in the panel.
    fireEvent.click(r.getByTestId('compare-sanity-open-not-compressed'));
    assert.match(
      within(r.getByTestId('sample-panel')).getByTestId('sample-flags').textContent ?? '',
      /not-compressed: A compressed method held as many KV bytes/,
    );
  });

  it('says so when there is nothing to draw, or rows the report cannot read', async () => {
    const empty = (await setup()).render(<CompareScreen />);
    assert.match(empty.getByTestId('screen-compare').textContent ?? '', /Pick a run/);
    cleanup();
    const bad = { kind: 'cell', cellId: 'x1', experimentHash: 'h' } as unknown as AnyRow;
    const r = (await onRows('r', [bad])).render(<CompareScreen />);
    assert.match(r.getByTestId('compare-error').textContent ?? '', /row x1: has no model name/);
  });
});
