/** The Playground: full cache + 3 configurations side by side, KV held vs full, and the retention overlay with its layer slider and head picker. */
import './dom.ts';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fireEvent, screen } from '@testing-library/react';
import { PlaygroundScreen } from '../../renderer/src/screens/Playground.tsx';
import { settle, setup } from './render.tsx';

test('renders the full cache and three compressed columns with a retention overlay each', async () => {
  const h = await setup();
  h.render(<PlaygroundScreen />);
  // Two configs by default; add a third, then the add button disappears at the limit.
  fireEvent.click(screen.getByTestId('playground-add-config'));
  assert.equal(screen.queryByTestId('playground-add-config'), null);
  fireEvent.change(screen.getByTestId('playground-budget-2'), { target: { value: '10%' } });
  fireEvent.click(screen.getByTestId('playground-run'));
  await settle();

  const call = h.fake.calls.find((c) => c.method === 'runPlayground');
  assert.deepEqual((call?.input as { configs: unknown }).configs, [
    { method: 'snapkv/uniform', budget: '20%' },
    { method: 'snapkv/zigzagkv', budget: '20%' },
    { method: 'snapkv/pyramidkv', budget: '10%' },
  ]);
  const cols = screen.getAllByTestId('playground-column');
  assert.equal(cols.length, 4);
  assert.deepEqual(
    cols.map((c) => c.getAttribute('data-label')),
    ['full', 'snapkv/uniform @ 20%', 'snapkv/zigzagkv @ 20%', 'snapkv/pyramidkv @ 10%'],
  );
  for (const c of cols) assert.ok((c.querySelector('[data-testid="pg-text"]')?.textContent ?? '').length > 0);
  assert.match(cols[0]?.querySelector('[data-testid="pg-kv"]')?.textContent ?? '', /\(100\.0%\)$/);
  assert.doesNotMatch(cols[3]?.querySelector('[data-testid="pg-kv"]')?.textContent ?? '', /\(100\.0%\)$/);

  const overlays = screen.getAllByTestId('retention-overlay');
  assert.equal(overlays.length, 4);
  const n = Number(overlays[0]?.getAttribute('data-token-count'));
  assert.ok(n > 10);
  assert.equal(overlays[0]?.getAttribute('data-kept-count'), String(n), 'the full cache keeps every token');
  const kept10 = Number(overlays[3]?.getAttribute('data-kept-count'));
  assert.ok(kept10 > 0 && kept10 < n, `10% keeps some tokens: ${kept10}/${n}`);
  assert.equal(overlays[3]?.querySelectorAll('.tok-evicted').length, n - kept10);
});

test('the layer slider and head picker change what the overlay shows', async () => {
  const h = await setup();
  h.render(<PlaygroundScreen />);
  fireEvent.click(screen.getByTestId('playground-run'));
  await settle();
  const overlay = () => screen.getAllByTestId('retention-overlay')[1];
  const response = h.store.getState().response;
  assert.ok(response);
  const kept = response.results[1]?.kept ?? [];
  // Head 0 of layer 0: exactly its kept positions.
  fireEvent.change(screen.getByTestId('playground-head'), { target: { value: '0' } });
  assert.equal(overlay()?.getAttribute('data-kept-count'), String(kept[0]?.[0]?.length));
  // The demo model has 6 layers: the slider goes to 5.
  assert.equal((screen.getByTestId('playground-layer') as HTMLInputElement).max, '5');
  fireEvent.change(screen.getByTestId('playground-layer'), { target: { value: '3' } });
  assert.equal(screen.getByTestId('playground-layer-value').textContent, '3');
  assert.equal(overlay()?.getAttribute('data-kept-count'), String(kept[3]?.[0]?.length));
  // All heads: a token counts as kept if any head kept it.
  fireEvent.change(screen.getByTestId('playground-head'), { target: { value: 'all' } });
  const union = new Set((kept[3] ?? []).flat());
  assert.equal(overlay()?.getAttribute('data-kept-count'), String(union.size));
});

test('a bad budget shows the engine error', async () => {
  const h = await setup();
  h.render(<PlaygroundScreen />);
  fireEvent.change(screen.getByTestId('playground-budget-0'), { target: { value: 'much' } });
  fireEvent.click(screen.getByTestId('playground-run'));
  await settle();
  assert.match(screen.getByTestId('playground-error').textContent ?? '', /Budget "much" is not understood: write a share of the cache \(20%\)/);
  assert.equal(h.store.getState().playgroundRunning, false);
});

test('a budget too small for a short prompt is raised, and its column says so in one line', async () => {
  const h = await setup();
  h.render(<PlaygroundScreen />);
  fireEvent.change(screen.getByTestId('playground-prompt'), { target: { value: 'Once upon a time' } });
  fireEvent.change(screen.getByTestId('playground-budget-0'), { target: { value: '1%' } });
  fireEvent.change(screen.getByTestId('playground-budget-1'), { target: { value: '100%' } });
  fireEvent.click(screen.getByTestId('playground-run'));
  await settle();
  const cols = screen.getAllByTestId('playground-column');
  const notes = (i: number) => [...(cols[i]?.querySelectorAll('[data-testid="pg-notice"]') ?? [])].map((p) => p.textContent ?? '');
  assert.deepEqual(notes(0), [], 'the full cache');
  assert.equal(notes(1).length, 1);
  assert.match(
    notes(1)[0] ?? '',
    /^note: budget 1% = \d+ tokens? over \d+ layers is below what snapkv\/uniform can keep of this 5-token prompt.*kept the full cache/,
  );
  assert.deepEqual(notes(2), [], 'a budget that covers the prompt needs no notice');
});
