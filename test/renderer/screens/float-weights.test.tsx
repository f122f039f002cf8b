/**
 * The float-weights choice on the Models screen against the fake: a model with
 * matrices stored as floats shows its RAM estimate for each form, and choosing
 * one saves the setting the engine applies at the next load.
 */
import '../dom.ts';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fireEvent, screen } from '@testing-library/react';
import { FloatWeightsPicker, ModelCardView } from '../../../renderer/src/screens/Models.tsx';
import { FAKE_DEMO_MODEL } from '../../../renderer/src/api/fake.ts';
import { settle, setup } from '../render.tsx';

test('a float-stored model shows its RAM per weight form; choosing one saves the setting', async () => {
  const h = await setup();
  const est = FAKE_DEMO_MODEL.floatWeightEstimates;
  assert.ok(est, 'the fake demo model is stored as floats');
  h.render(
    <>
      <ModelCardView card={FAKE_DEMO_MODEL} />
      <FloatWeightsPicker card={FAKE_DEMO_MODEL} />
    </>,
  );
  assert.match(screen.getByTestId('card-ram-forms').textContent ?? '', /float32 .* · 8-bit .* · 4-bit /);
  const select = screen.getByTestId('float-weights-select') as HTMLSelectElement;
  assert.equal(select.value, 'auto');
  fireEvent.change(select, { target: { value: 'q4' } });
  await settle();
  assert.equal((await h.fake.getSettings({})).floatWeights, 'q4');
  assert.equal((screen.getByTestId('float-weights-select') as HTMLSelectElement).value, 'q4');
});

test('a model whose matrices are all quantised shows no picker', async () => {
  const h = await setup();
  const { floatWeightEstimates: _, ...quantised } = FAKE_DEMO_MODEL;
  h.render(<FloatWeightsPicker card={quantised} />);
  assert.equal(screen.queryByTestId('float-weights'), null);
});
