/**
 * A custom allocation saved on the Layer profile reaches the experiment
 * builder: the whole app on the fake, through the sidebar as a user goes —
 * profile, save the custom allocation, open the builder — and the
 * experiment the builder would start runs it (ZigZagKV over the saved
 * budgets as a static profile), until it is removed there.
 */
import './dom.ts';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fireEvent, screen, within } from '@testing-library/react';
import type { ExperimentInput } from '@kvlab/core';
import { App } from '../../renderer/src/App.tsx';
import { builderExperiment } from '../../renderer/src/store/builder.ts';
import { settle, setup } from './render.tsx';

const customEntries = (exp: ExperimentInput) =>
  exp.methods.filter(
    (m): m is Exclude<typeof m, string> => typeof m === 'object' && (m.allocator as { allocation?: unknown } | undefined)?.allocation === 'staticProfile',
  );

test('Save custom allocation on the Layer profile adds it to the builder, which runs it; saving twice gives two labels', async () => {
  const h = await setup();
  h.render(<App />);
  fireEvent.click(screen.getByTestId('nav-profile'));
  await settle();
  fireEvent.click(screen.getByTestId('profile-run'));
  await settle();
  // The custom bars start as the first allocator's budgets; one step up on layer 1 makes them the user's own.
  const bars = () => within(screen.getByTestId('profile-allocations')).getAllByTestId('budget-bar-custom');
  fireEvent.keyDown(bars()[1] as Element, { key: 'PageUp' });
  const saved = bars().map((b) => Number(b.getAttribute('data-value')));
  fireEvent.click(screen.getByTestId('profile-save-custom'));
  await settle();
  assert.match(screen.getByTestId('profile-saved').textContent ?? '', /added to the Experiment builder/);

  fireEvent.click(screen.getByTestId('nav-builder'));
  await settle();
  const item = screen.getByTestId('builder-custom-0');
  assert.equal(item.getAttribute('data-label'), 'custom');
  const s = h.store.getState();
  const entries = customEntries(builderExperiment(s.builder, s.models, s.methodInfo));
  assert.equal(entries.length, 1);
  assert.deepEqual(entries[0], { method: 'snapkv/zigzagkv', label: 'custom', allocator: { allocation: 'staticProfile', staticLmba: saved, boundRatio: 0 } });
  assert.match(screen.getByTestId('builder-json').textContent ?? '', /"staticProfile"/);

  // A second save is a second method with its own label; Remove takes one out of the experiment.
  fireEvent.click(screen.getByTestId('nav-profile'));
  await settle();
  fireEvent.click(screen.getByTestId('profile-run'));
  await settle();
  fireEvent.click(screen.getByTestId('profile-save-custom'));
  fireEvent.click(screen.getByTestId('nav-builder'));
  await settle();
  assert.equal(screen.getByTestId('builder-custom-1').getAttribute('data-label'), 'custom-2');
  fireEvent.click(screen.getByTestId('builder-custom-0-remove'));
  const after = h.store.getState();
  assert.deepEqual(
    customEntries(builderExperiment(after.builder, after.models, after.methodInfo)).map((m) => m.label),
    ['custom-2'],
  );
});
