/**
 * LayerBudgetBars (bars per allocator, the LMBA overlay, drag and keyboard
 * editing that conserves the total), FidelityCurves and LayerProfileChart.
 */
import '../dom.ts';
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { act, cleanup, fireEvent, render } from '@testing-library/react';
import { allocatorColors, groupKey } from '@kvlab/core';
import { useState } from 'react';
import { FidelityCurves } from '../../../renderer/src/charts/FidelityCurves.tsx';
import { LayerBudgetBars } from '../../../renderer/src/charts/LayerBudgetBars.tsx';
import { LayerProfileChart } from '../../../renderer/src/charts/LayerProfileChart.tsx';
import { colors, data, ids, ZZ } from './fixture.ts';

afterEach(() => cleanup());

const sum = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0);

describe('LayerBudgetBars', () => {
  it('a bar per layer per allocator, with the LMBA line, from the report aggregates', () => {
    const c = data.layerBudgets[0];
    assert.ok(c);
    const ac = allocatorColors(c.series.map((s) => s.allocator));
    const r = render(
      <LayerBudgetBars
        series={c.series.map((s) => ({ name: s.allocator, color: ac.get(s.allocator) ?? '', budgets: s.budgets }))}
        {...(c.lmba ? { lmba: c.lmba } : {})}
        width={640}
        height={300}
        animate={false}
      />,
    );
    const bars = r.getAllByTestId('budget-bar');
    assert.equal(bars.length, 3 * 4);
    assert.deepEqual([...new Set(bars.map((b) => b.getAttribute('data-series')))], ['pyramidkv', 'uniform', 'zigzagkv']);
    const u0 = bars.find((b) => b.getAttribute('data-series') === 'uniform' && b.getAttribute('data-layer') === '0');
    assert.equal(Number(u0?.getAttribute('data-value')), c.series[1]?.budgets[0]);
    assert.ok(r.container.querySelector('.lmba-overlay'), 'LMBA line drawn');
    assert.equal(r.getByTestId('layer-budget-bars-legend').querySelectorAll('li').length, 4);
    // Round ticks: every step of the budget axis is 1, 2 or 5 × 10^k, and the axis ends on a tick above the tallest bar.
    // recharts draws each axis's tick labels in a group of their own (the budget axis: the first y axis declared).
    const ticks = r.container.querySelectorAll('.recharts-yAxis-tick-labels')[0]?.querySelectorAll('.recharts-cartesian-axis-tick-value') ?? [];
    const values = [...ticks].map((t) => Number(t.textContent));
    assert.ok(values.length >= 3, `budget axis ticks: ${values.join(' ')}`);
    const step = (values[1] ?? 0) - (values[0] ?? 0);
    const mag = 10 ** Math.floor(Math.log10(step));
    assert.ok([1, 2, 5].includes(step / mag), `step ${step}: ${values.join(' ')}`);
    for (let i = 1; i < values.length; i++) assert.equal((values[i] ?? 0) - (values[i - 1] ?? 0), step, values.join(' '));
    assert.ok((values.at(-1) ?? 0) >= Math.max(...c.series.flatMap((x) => x.budgets)), values.join(' '));
    // The LMBA line's swatch is a line through a dot, as the line is drawn.
    assert.equal(r.getByTestId('layer-budget-bars-legend').querySelectorAll('li svg')[3]?.getAttribute('data-mark'), 'line-circle');
  });

  function Editable(props: { initial: number[]; seen: number[][]; min?: number }) {
    const [b, setB] = useState(props.initial);
    return (
      <LayerBudgetBars
        series={[{ name: 'uniform', color: '#0072B2', budgets: props.initial.map(() => 25) }]}
        editable={{
          budgets: b,
          ...(props.min !== undefined ? { min: props.min } : {}),
          onChange: (next) => {
            props.seen.push(next);
            setB(next);
          },
        }}
        width={640}
        height={300}
        animate={false}
      />
    );
  }

  it('dragging a custom bar sets that layer and conserves the total', () => {
    const seen: number[][] = [];
    const r = render(<Editable initial={[40, 30, 20, 10]} seen={seen} />);
    assert.equal(r.getByTestId('layer-budget-bars-total').getAttribute('data-total'), '100');
    const bar3 = r.getAllByTestId('budget-bar-custom').find((g) => g.getAttribute('data-layer') === '3');
    assert.ok(bar3);
    const grab = bar3.querySelector('rect') as SVGRectElement;
    const top = Number(grab.getAttribute('y'));
    const h = Number(grab.getAttribute('height'));
    assert.ok(h > 0, 'the grab area spans the plot');
    // The axis runs 0…50 (nice max above 40·1.1); jsdom has no layout, so client y = SVG y.
    const yFor = (v: number): number => top + h * (1 - v / 50);
    fireEvent.pointerDown(grab, { clientX: 500, clientY: yFor(40), pointerId: 1 });
    act(() => {
      window.dispatchEvent(new window.PointerEvent('pointermove', { clientX: 500, clientY: yFor(25), pointerId: 1 }));
    });
    act(() => {
      window.dispatchEvent(new window.PointerEvent('pointermove', { clientX: 500, clientY: yFor(34), pointerId: 1 }));
    });
    act(() => {
      window.dispatchEvent(new window.PointerEvent('pointerup', { pointerId: 1 }));
    });
    assert.ok(seen.length >= 2, `onChange called ${seen.length} times`);
    for (const s of seen) assert.equal(sum(s), 100, `total kept: ${s.join(', ')}`);
    const last = seen[seen.length - 1] ?? [];
    assert.equal(last[3], 34);
    // The others gave up 24 tokens in proportion to what they held (40:30:20).
    assert.deepEqual(last.slice(0, 3), [29, 22, 15]);
    assert.equal(r.getByTestId('layer-budget-bars-total').getAttribute('data-total'), '100');
    // After the pointer is released, moving does nothing.
    const n = seen.length;
    act(() => {
      window.dispatchEvent(new window.PointerEvent('pointermove', { clientX: 500, clientY: yFor(5), pointerId: 1 }));
    });
    assert.equal(seen.length, n);
  });

  it('arrow keys nudge a layer, bounded by the minimum of the others, total unchanged', () => {
    const seen: number[][] = [];
    const r = render(<Editable initial={[5, 5, 5]} seen={seen} min={4} />);
    const bar0 = () => r.getAllByTestId('budget-bar-custom').find((g) => g.getAttribute('data-layer') === '0') as Element;
    fireEvent.keyDown(bar0(), { key: 'ArrowUp' });
    fireEvent.keyDown(bar0(), { key: 'PageUp' }); // would be 16, but the others cannot go below 4 each
    assert.deepEqual(seen, [
      [6, 5, 4],
      [7, 4, 4],
    ]);
  });
});

describe('FidelityCurves', () => {
  const f = data.fidelity[0];
  assert.ok(f);
  it('a curve per compressed method, a point per budget, the aggregated ΔNLL; the metric picker switches to KL', () => {
    const r = render(<FidelityCurves chart={f} colors={colors} width={640} height={300} animate={false} />);
    const pts = r.getAllByTestId('fidelity-point');
    assert.equal(pts.length, 9);
    assert.deepEqual([...new Set(pts.map((p) => p.getAttribute('data-series')))], [ZZ, 'snapkv/pyramidkv', 'snapkv/uniform']);
    const u25 = pts.find((p) => p.getAttribute('data-series') === 'snapkv/uniform' && p.getAttribute('data-budget') === '25%');
    assert.ok(Math.abs(Number(u25?.getAttribute('data-value')) - ((1 - 0.25) * 0.1 + 0.005)) < 1e-12);
    fireEvent.change(r.getByTestId('fidelity-curves-metric'), { target: { value: 'kl' } });
    const kl = r.getAllByTestId('fidelity-point').find((p) => p.getAttribute('data-series') === 'snapkv/uniform' && p.getAttribute('data-budget') === '25%');
    assert.ok(Math.abs(Number(kl?.getAttribute('data-value')) - 0.04) < 1e-12);
  });

  it('click → the cells of that method and budget', () => {
    const picked: (readonly string[])[] = [];
    const r = render(<FidelityCurves chart={f} colors={colors} cellIds={ids} onSelect={(c) => picked.push(c)} width={640} height={300} animate={false} />);
    const p = r.getAllByTestId('fidelity-point').find((x) => x.getAttribute('data-series') === ZZ && x.getAttribute('data-budget') === '50%');
    fireEvent.click(p as Element);
    assert.deepEqual(picked, [ids.get(groupKey('tiny-llama', 'fidelity', ZZ, '50%'))]);
    assert.equal(picked[0]?.length, 2);
  });
});

describe('LayerProfileChart', () => {
  it('LMBA and LMBO bars per layer, the uncertainty line', () => {
    const p = data.profiles[0];
    assert.ok(p);
    const r = render(
      <LayerProfileChart
        lmba={p.lmba}
        lmbo={p.lmbo}
        uncertainty={p.lmba.map((x) => x / 256)}
        tau={p.tau}
        tauO={p.tauO}
        width={640}
        height={300}
        animate={false}
      />,
    );
    const bars = r.getAllByTestId('profile-bar');
    assert.equal(bars.filter((b) => b.getAttribute('data-series') === 'LMBA').length, 4);
    assert.deepEqual(
      bars.filter((b) => b.getAttribute('data-series') === 'LMBO').map((b) => Number(b.getAttribute('data-value'))),
      [30, 10, 20, 4],
    );
    assert.equal(r.getByTestId('layer-profile-chart-legend').querySelectorAll('li').length, 3);
  });
});
