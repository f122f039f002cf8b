/**
 * Playground: one prompt through the full cache and up to three compressed
 * configurations (runPlayground), and the retention overlay's view state —
 * which layer, and one KV head or all of them.
 */
import type { PlaygroundResponse } from '@kvlab/core';
import type { SliceCreator } from './types.ts';
import { errorMessage } from '../util/format.ts';

export interface PlaygroundConfig {
  readonly method: string;
  readonly budget: string;
}

export const MAX_PLAYGROUND_CONFIGS = 3;

export interface PlaygroundSlice {
  readonly prompt: string;
  readonly maxNewTokens: number;
  readonly configs: readonly PlaygroundConfig[];
  readonly playgroundRunning: boolean;
  readonly playgroundError: string | null;
  readonly response: PlaygroundResponse | null;
  /** Overlay: layer index, and a KV head index or 'all' (shade by the share of heads that kept a token). */
  readonly overlayLayer: number;
  readonly overlayHead: number | 'all';
  setPrompt(prompt: string): void;
  setMaxNewTokens(n: number): void;
  setConfig(index: number, patch: Partial<PlaygroundConfig>): void;
  addConfig(): void;
  removeConfig(index: number): void;
  setOverlay(patch: { layer?: number; head?: number | 'all' }): void;
  runPlayground(modelId: string): Promise<void>;
}

export const DEFAULT_PROMPT =
  'Once upon a time, there was a little girl named Lily. She had a red ball. The passkey is 71432. Remember it. Lily went to the park with her mom. What is the passkey?';

export const createPlaygroundSlice: SliceCreator<PlaygroundSlice> = (set, get, api) => ({
  prompt: DEFAULT_PROMPT,
  maxNewTokens: 48,
  configs: [
    { method: 'snapkv/uniform', budget: '20%' },
    { method: 'snapkv/zigzagkv', budget: '20%' },
  ],
  playgroundRunning: false,
  playgroundError: null,
  response: null,
  overlayLayer: 0,
  overlayHead: 'all',
  setPrompt: (prompt) => set({ prompt }),
  setMaxNewTokens: (maxNewTokens) => set({ maxNewTokens }),
  setConfig: (index, patch) => set((s) => ({ configs: s.configs.map((c, i) => (i === index ? { ...c, ...patch } : c)) })),
  addConfig: () =>
    set((s) =>
      s.configs.length >= MAX_PLAYGROUND_CONFIGS ? {} : { configs: [...s.configs, { method: 'snapkv/pyramidkv', budget: s.configs[0]?.budget ?? '20%' }] },
    ),
  removeConfig: (index) => set((s) => ({ configs: s.configs.filter((_, i) => i !== index) })),
  setOverlay: ({ layer, head }) => set({ ...(layer !== undefined ? { overlayLayer: layer } : {}), ...(head !== undefined ? { overlayHead: head } : {}) }),
  runPlayground: async (modelId) => {
    const { prompt, maxNewTokens, configs } = get();
    set({ playgroundRunning: true, playgroundError: null });
    try {
      const response = await api.runPlayground({ modelId, prompt, maxNewTokens, configs: [...configs] });
      const layers = response.results.find((r) => r.kept.length)?.kept.length ?? 0;
      set((s) => ({ response, playgroundRunning: false, overlayLayer: Math.min(s.overlayLayer, Math.max(0, layers - 1)) }));
    } catch (e) {
      set({ playgroundRunning: false, playgroundError: errorMessage(e) });
    }
  },
});
