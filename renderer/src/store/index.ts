/**
 * The renderer's one store, and the React glue: `createLabStore(api)` builds
 * it over any LabApi (the fake in tests), `<LabProvider>` hands it down and
 * `useLab(selector)` reads it. Selectors must return stable values (a field,
 * or `useShallow` for several): zustand 5 re-renders — and loops — on a
 * selector that builds a new object each call.
 */
import { createContext, createElement, useContext, type ReactNode } from 'react';
import { useStore } from 'zustand';
import { createStore } from 'zustand/vanilla';
import type { LabApi } from '@kvlab/core';
import { createBuilderSlice } from './builder.ts';
import { createCompareSlice } from './compare.ts';
import { createLayerProfileSlice } from './layer-profile.ts';
import { createModelsSlice } from './models.ts';
import { createPlaygroundSlice } from './playground.ts';
import { createRunsSlice } from './runs.ts';
import { createSettingsSlice } from './settings.ts';
import type { LabState, LabStore } from './types.ts';
import { createUiSlice } from './ui.ts';

export type { LabState, LabStore } from './types.ts';

export interface LabStoreHandle {
  readonly store: LabStore;
  readonly api: LabApi;
}

export function createLabStore(api: LabApi): LabStore {
  return createStore<LabState>()((set, get) => ({
    ...createUiSlice(set, get, api),
    ...createSettingsSlice(set, get, api),
    ...createModelsSlice(set, get, api),
    ...createRunsSlice(set, get, api),
    ...createBuilderSlice(set, get, api),
    ...createPlaygroundSlice(set, get, api),
    ...createCompareSlice(set, get, api),
    ...createLayerProfileSlice(set, get, api),
  }));
}

/** Loads what every screen needs at start: settings and app info first (the default model id), then models, runs and the method registry. */
export async function initLabStore(store: LabStore): Promise<void> {
  const s = store.getState();
  await s.loadSettings();
  await Promise.all([s.loadModels(), s.loadRuns(), s.loadMethods()]);
  const st = store.getState();
  if (st.builder.modelIds.length === 0 && st.selectedModelId) st.updateBuilder({ modelIds: [st.selectedModelId] });
  // updateBuilder forgets the preset; the initial form IS the first preset.
  store.setState({ builderPreset: 'quick' });
}

const LabContext = createContext<LabStoreHandle | null>(null);

export function LabProvider({ store, api, children }: { store: LabStore; api: LabApi; children?: ReactNode }) {
  return createElement(LabContext.Provider, { value: { store, api } }, children);
}

function useHandle(): LabStoreHandle {
  const h = useContext(LabContext);
  if (!h) throw new Error('useLab outside <LabProvider>');
  return h;
}

export function useLab<T>(selector: (s: LabState) => T): T {
  return useStore(useHandle().store, selector);
}

/** The LabApi (screens that call it directly: the charts' screens, exports). */
export function useLabApi(): LabApi {
  return useHandle().api;
}

export function useLabStore(): LabStore {
  return useHandle().store;
}
