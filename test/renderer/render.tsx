/**
 * Shared setup for the component tests: a fake LabApi (manual clock), a
 * store over it with the initial loads done, and a render inside the
 * provider. Import './dom.ts' before this module.
 */
import { act, cleanup, render, type RenderResult } from '@testing-library/react';
import type { ReactElement } from 'react';
import { afterEach } from 'node:test';
import { createFakeLab, type FakeLab, type FakeLabOptions } from '../../renderer/src/api/fake.ts';
import { createLabStore, initLabStore, LabProvider, type LabStore } from '../../renderer/src/store/index.ts';

// node:test has no global afterEach when @testing-library/react loads, so its automatic cleanup is not registered.
afterEach(() => cleanup());

export interface Harness {
  readonly fake: FakeLab;
  readonly store: LabStore;
  readonly unsubscribe: () => void;
  render(ui: ReactElement): RenderResult;
}

export async function setup(opts: FakeLabOptions = {}): Promise<Harness> {
  const fake = createFakeLab({ tickMs: null, ...opts });
  const store = createLabStore(fake);
  const unsubscribe = store.getState().subscribe();
  await initLabStore(store);
  return {
    fake,
    store,
    unsubscribe,
    render: (ui) =>
      render(
        <LabProvider store={store} api={fake}>
          {ui}
        </LabProvider>,
      ),
  };
}

/** Runs fake engine steps inside act() so React applies the resulting store updates. */
export function step(h: Harness, cells = 1): void {
  act(() => {
    h.fake.step(cells);
  });
}

/** Lets pending promises (API calls the UI started) settle inside act(). */
export async function settle(): Promise<void> {
  await act(async () => {
    for (let i = 0; i < 5; i++) await new Promise((r) => setTimeout(r, 0));
  });
}
