/**
 * Models: the list the engine knows (the bundled default first), model cards
 * fetched on demand, the selected model every model-bound screen uses
 * (Playground, Layer profile, the builder's default), and opening a model by
 * path. A `models.changed` event reloads the list.
 */
import type { ModelCard, ModelSummary } from '@kvlab/core';
import type { SliceCreator } from './types.ts';
import { errorMessage } from '../util/format.ts';

export interface ModelsSlice {
  readonly models: readonly ModelSummary[];
  readonly modelsLoaded: boolean;
  readonly cards: Readonly<Record<string, ModelCard>>;
  readonly selectedModelId: string | null;
  /** An open in progress (path), and the last open's error. */
  readonly opening: string | null;
  readonly openError: string | null;
  loadModels(): Promise<void>;
  selectModel(modelId: string): Promise<void>;
  openModel(path: string): Promise<ModelCard | null>;
}

/** Bundled first, then by name: the default model is always at the top. */
const order = (ms: readonly ModelSummary[]): ModelSummary[] => [...ms].sort((a, b) => Number(b.bundled) - Number(a.bundled) || a.name.localeCompare(b.name));

export const createModelsSlice: SliceCreator<ModelsSlice> = (set, get, api) => ({
  models: [],
  modelsLoaded: false,
  cards: {},
  selectedModelId: null,
  opening: null,
  openError: null,
  loadModels: async () => {
    try {
      const models = order(await api.listModels({}));
      set({ models, modelsLoaded: true });
      const sel = get().selectedModelId;
      if (!sel || !models.some((m) => m.id === sel)) {
        const fallback = get().appInfo?.defaultModelId ?? models[0]?.id ?? null;
        const pick = models.find((m) => m.id === fallback) ?? models[0];
        if (pick) await get().selectModel(pick.id);
      }
    } catch (e) {
      set({ modelsLoaded: true });
      get().reportError(e, 'listing models');
    }
  },
  selectModel: async (modelId) => {
    set({ selectedModelId: modelId });
    if (get().cards[modelId]) return;
    try {
      const card = await api.getModelCard({ modelId });
      set((s) => ({ cards: { ...s.cards, [modelId]: card } }));
    } catch (e) {
      get().reportError(e, 'reading the model card');
    }
  },
  openModel: async (path) => {
    const p = path.trim();
    if (!p) {
      set({ openError: 'Enter the path of a GGUF file, a Hugging Face folder or a llama2.c .bin.' });
      return null;
    }
    set({ opening: p, openError: null });
    try {
      const card = await api.openModel({ path: p });
      set((s) => ({ cards: { ...s.cards, [card.id]: card }, opening: null, selectedModelId: card.id }));
      const rest = get().models.filter((m) => m.id !== card.id);
      set({ models: order([...rest, card]) });
      return card;
    } catch (e) {
      set({ opening: null, openError: errorMessage(e) });
      return null;
    }
  },
});
