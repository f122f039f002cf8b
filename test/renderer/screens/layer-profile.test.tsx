/**
 * The Layer profile screen against the typed fake: profile a generated NIAH
 * prompt, see LMBA/LMBO per layer, the registry allocators' budgets at a
 * total (each summing to it; CAKE explained as not computable from a
 * profile), edit the custom allocation with the total conserved, save it —
 * and the saved method entry reproduces the custom budgets when core's
 * ZigZagKV runs it.
 */
import '../dom.ts';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { act, cleanup, fireEvent, within } from '@testing-library/react';
import { parseParams, zigzagkv } from '@kvlab/core';
import { LayerProfileScreen } from '../../../renderer/src/screens/LayerProfile.tsx';
import { allocateAll, customMethodEntry, defaultMinPerLayer, niahPrompt, roughCounter } from '../../../renderer/src/util/layer-allocations.ts';
import { settle, setup } from '../render.tsx';

const sum = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0);

describe('layer profile helpers', () => {
  it('builds a NIAH prompt of about the asked length with the rough counter', () => {
    const p = niahPrompt(512, 50);
    const n = roughCounter.count(p);
    assert.ok(Math.abs(n - 512) <= 16, `${n} rough tokens`);
    assert.notEqual(niahPrompt(512, 0), p, 'the needle moves with the depth');
  });

  it('runs every registry allocator on a profile; each sums to the total; CAKE needs what a profile lacks', () => {
    const profile = { lmba: [40, 10, 25, 5, 30, 12], promptTokens: 300 };
    const res = allocateAll(profile, 360);
    assert.deepEqual(
      res.map((r) => r.id),
      ['uniform', 'pyramidkv', 'zigzagkv', 'cake'],
    );
    for (const r of res.filter((x) => x.budgets)) assert.equal(sum(r.budgets ?? []), 360, r.id);
    assert.deepEqual(res[0]?.budgets, [60, 60, 60, 60, 60, 60]);
    const zz = res[2]?.budgets ?? [];
    assert.ok((zz[0] ?? 0) > (zz[3] ?? 0), 'ZigZagKV follows LMBA');
    assert.equal(res[3]?.budgets, null);
    assert.match(res[3]?.error ?? '', /cake/);
    assert.equal(defaultMinPerLayer(300), 9); // SnapKV's window of 8 + 1
  });

  it('a saved custom allocation runs as ZigZagKV with a static profile: the same budgets at its total, the same shape at another', () => {
    const custom = [70, 20, 50, 10, 90, 60];
    const entry = customMethodEntry(custom);
    const p = parseParams(zigzagkv, entry.allocator);
    const stats = { numLayers: 6, seqLen: 300, minPerLayer: 9 };
    assert.deepEqual(Array.from(zigzagkv.allocate(stats, sum(custom), p)), custom);
    assert.deepEqual(
      Array.from(zigzagkv.allocate(stats, sum(custom) * 2, p)),
      custom.map((b) => 2 * b),
    );
    assert.equal(entry.method, 'snapkv/zigzagkv');
  });
});

describe('LayerProfileScreen', () => {
  it('asks for a model when none is selected', async () => {
    const h = await setup();
    act(() => h.store.setState({ selectedModelId: null }));
    const r = h.render(<LayerProfileScreen />);
    assert.match(r.getByTestId('screen-profile').textContent ?? '', /Pick a model/);
  });

  it('profiles, draws LMBA/LMBO per layer and the allocators side by side; the custom allocation keeps the total and is saved', async () => {
    const h = await setup();
    const api = h.fake;
    const modelId = h.store.getState().selectedModelId;
    assert.ok(modelId);
    const card = await api.getModelCard({ modelId });
    const r = h.render(<LayerProfileScreen />);
    fireEvent.click(r.getByTestId('profile-run'));
    await settle();
    const call = api.calls.find((c) => c.method === 'profileModel');
    assert.ok(call, 'profileModel called');
    assert.match((call.input as { prompt: string }).prompt, /Question/);

    const chart = r.getByTestId('profile-chart');
    const lmbaBars = within(chart)
      .getAllByTestId('profile-bar')
      .filter((b) => b.getAttribute('data-series') === 'LMBA');
    assert.equal(lmbaBars.length, card.layers);

    const total = Number(/^(\d+) tokens per KV head/.exec(r.getByTestId('profile-total').textContent ?? '')?.[1]);
    assert.ok(total > 0);
    const alloc = r.getByTestId('profile-allocations');
    const bars = within(alloc).getAllByTestId('budget-bar');
    const bySeries = new Map<string, number[]>();
    for (const b of bars)
      bySeries.set(b.getAttribute('data-series') ?? '', [...(bySeries.get(b.getAttribute('data-series') ?? '') ?? []), Number(b.getAttribute('data-value'))]);
    assert.deepEqual([...bySeries.keys()], ['uniform', 'pyramidkv', 'zigzagkv']);
    for (const [name, vals] of bySeries) {
      assert.equal(vals.length, card.layers, name);
      assert.equal(sum(vals), total, name);
    }
    assert.ok(within(r.getByTestId('profile-skipped')).getByText(/CAKE: not shown/));

    // Edit the custom allocation with the keyboard: the total holds.
    const customBar = () => within(r.getByTestId('profile-allocations')).getAllByTestId('budget-bar-custom')[1] as Element;
    const before = Number(customBar().getAttribute('data-value'));
    fireEvent.keyDown(customBar(), { key: 'PageUp' });
    assert.equal(Number(customBar().getAttribute('data-value')), before + 10);
    assert.equal(r.getByTestId('profile-allocations-total').getAttribute('data-total'), String(total));
    fireEvent.click(r.getByTestId('profile-save-custom'));
    // Saved into the builder's methods, as the entry that runs it.
    const saved = h.store.getState().builder.customMethods.map((m) => (m.allocator as { staticLmba: number[] }).staticLmba);
    assert.equal(saved.length, 1);
    assert.equal(sum(saved[0] ?? []), total);
    assert.equal(saved[0]?.[1], before + 10);
    assert.match(r.getByTestId('profile-saved').textContent ?? '', /"allocation":"staticProfile"/);

    // A new total rescales the custom allocation to it.
    fireEvent.change(r.getByTestId('profile-budget'), { target: { value: '40%' } });
    const total2 = Number(/^(\d+) tokens/.exec(r.getByTestId('profile-total').textContent ?? '')?.[1]);
    assert.ok(total2 > total);
    assert.equal(r.getByTestId('profile-allocations-total').getAttribute('data-total'), String(total2));
    fireEvent.change(r.getByTestId('profile-budget'), { target: { value: 'lots' } });
    assert.match(r.getByTestId('profile-total').textContent ?? '', /Budget "lots" is not understood/);

    // The profile and the form are the store's: leaving the screen and coming back keeps them.
    fireEvent.change(r.getByTestId('profile-budget'), { target: { value: '40%' } });
    cleanup();
    const back = h.render(<LayerProfileScreen />);
    assert.equal((back.getByTestId('profile-budget') as HTMLInputElement).value, '40%');
    assert.equal(
      within(back.getByTestId('profile-chart'))
        .getAllByTestId('profile-bar')
        .filter((b) => b.getAttribute('data-series') === 'LMBA').length,
      card.layers,
    );
    assert.ok(back.getByTestId('profile-saved'));
  });

  it('shows the profile’s progress while it runs, and Cancel stops it without an error, keeping the last profile', async () => {
    const h = await setup({ holdLongCalls: true });
    const r = h.render(<LayerProfileScreen />);
    fireEvent.click(r.getByTestId('profile-run'));
    await settle();
    assert.match(r.getByTestId('profile-progress-text').textContent ?? '', /^prefill [\d,]+ of [\d,]+ tokens$/);
    h.fake.releaseLongCalls();
    await settle();
    assert.equal(r.queryByTestId('profile-progress'), null);
    const first = h.store.getState().layerProfile.profile;
    assert.ok(first);

    fireEvent.click(r.getByTestId('profile-run'));
    await settle();
    const requestId = (h.fake.calls.filter((c) => c.method === 'profileModel').at(-1)?.input as { requestId?: string }).requestId;
    assert.match(requestId ?? '', /^profile-/);
    fireEvent.click(r.getByTestId('profile-progress-cancel'));
    await settle();
    assert.deepEqual(
      h.fake.calls.filter((c) => c.method === 'cancelCall').map((c) => c.input),
      [{ requestId }],
    );
    assert.equal(r.queryByTestId('profile-progress'), null);
    assert.equal(r.queryByTestId('profile-error'), null);
    assert.equal(h.store.getState().layerProfile.profile, first);
    assert.ok(r.getByTestId('profile-chart'), 'the last profile is still drawn');
  });

  it("a profile started while another model's runs cancels it, and the cancelled one's answer changes nothing", async () => {
    const h = await setup({ holdLongCalls: true });
    const [a, b] = h.store.getState().models.map((m) => m.id);
    assert.ok(a && b && a !== b);
    const st = () => h.store.getState();
    const first = st().runLayerProfile(a, 'The first model is profiled here.');
    await settle();
    const second = st().runLayerProfile(b, 'And then the second one.');
    await settle();
    const ids = h.fake.calls.filter((c) => c.method === 'profileModel').map((c) => (c.input as { requestId: string }).requestId);
    assert.deepEqual(
      h.fake.calls.filter((c) => c.method === 'cancelCall').map((c) => c.input),
      [{ requestId: ids[0] }],
    );
    await first;
    // The first one's E_CANCELLED is not this screen's news: B's profile still runs, with its own Cancel.
    assert.equal(st().layerProfile.busy, true);
    assert.equal(st().layerProfile.requestId, ids[1]);
    assert.ok(!st().notices.some((n) => /cancelled/.test(n.text)));
    assert.equal(h.fake.releaseLongCalls(ids[1]), 1);
    await second;
    assert.equal(st().layerProfile.modelId, b);
    assert.equal(st().layerProfile.profile?.modelId, b);
    assert.equal(st().layerProfile.busy, false);
  });

  it('shows the API error when profiling fails', async () => {
    const h = await setup();
    act(() => h.store.setState({ selectedModelId: 'no-such-model' }));
    const r = h.render(<LayerProfileScreen />);
    fireEvent.click(r.getByTestId('profile-run'));
    await settle();
    assert.ok(r.getByTestId('profile-error').textContent);
  });
});
