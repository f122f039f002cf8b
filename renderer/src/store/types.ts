/**
 * The store's shape: one zustand store made of slices (zustand's slices
 * pattern), each a plain object of state and actions. Slices reach the API
 * through the closure `createLabStore(api)` gives them, never through a
 * global, so every test gets its own store over its own fake.
 */
import type { StoreApi } from 'zustand/vanilla';
import type { LabApi } from '@kvlab/core';
import type { BuilderSlice } from './builder.ts';
import type { CompareSlice } from './compare.ts';
import type { LayerProfileSlice } from './layer-profile.ts';
import type { ModelsSlice } from './models.ts';
import type { PlaygroundSlice } from './playground.ts';
import type { RunsSlice } from './runs.ts';
import type { SettingsSlice } from './settings.ts';
import type { UiSlice } from './ui.ts';

export type LabState = ModelsSlice & RunsSlice & BuilderSlice & PlaygroundSlice & SettingsSlice & UiSlice & CompareSlice & LayerProfileSlice;
export type LabStore = StoreApi<LabState>;

/** What a slice creator receives: zustand's set/get plus the API. */
export type SliceCreator<S> = (set: StoreApi<LabState>['setState'], get: StoreApi<LabState>['getState'], api: LabApi) => S;
