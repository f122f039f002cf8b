/**
 * Playground: one prompt through the full cache and up to three compressed
 * configurations (runPlayground), and the retention overlay's view state —
 * which layer, and one KV head or all of them.
 *
 * The prompt starts as a retrieval example (playgroundExample: a passkey or
 * needle sample of core's NIAH generator, in the prompt format the bundled
 * demo model was trained on), because that model retrieves in this format and
 * hardly outside it: the first run shows the full cache answering and the
 * compressed caches holding or failing. The user can insert another (kind,
 * template, length, depth, seed) or write their own prompt.
 */
import type { ExampleKind, PlaygroundExample, PlaygroundResponse } from '@kvlab/core';
import { errorMessage, promptRoom } from '@kvlab/core';
import type { SliceCreator } from './types.ts';
import { speedFromPlayground, type MeasuredSpeed } from '../util/cost.ts';
import type { CallProgress } from './calls.ts';
import { cancelRequest, isCancelled, newRequestId } from './calls.ts';

export interface PlaygroundConfig {
  readonly method: string;
  readonly budget: string;
}

export const MAX_PLAYGROUND_CONFIGS = 3;

/** What "Insert example" asks for. */
export interface ExampleOptions {
  readonly kind: ExampleKind;
  /** 'train-<i>' / 'heldOut-<i>' (core's exampleTemplates). */
  readonly template: string;
  /** Prompt length in the model's tokens. */
  readonly contextLength: number;
  readonly depth: number;
  readonly seed: number;
}

/**
 * The example the Playground opens with: a 512-token passkey sample in the first trained template,
 * needle at half depth, seed 1. On the bundled demo model the full cache answers it (43508) and
 * the compressed caches at 20 % differ (test/e2e/app.e2e.test.ts runs it on the real engine).
 */
export const DEFAULT_EXAMPLE: ExampleOptions = { kind: 'passkey', template: 'train-0', contextLength: 512, depth: 50, seed: 1 };

/** The example lengths offered. */
const EXAMPLE_LENGTHS = [128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768, 65536, 131072];
/** Tokens an example may generate: the NIAH generator's answer cap for one value, which the example's sample carries. */
const EXAMPLE_ANSWER_TOKENS = 32;

/** The example lengths that fit a model's context with room for the answer; the smallest is always offered. */
export function exampleLengths(contextLength: number | undefined): number[] {
  if (contextLength === undefined) return EXAMPLE_LENGTHS.filter((l) => l <= 2048);
  const fit = EXAMPLE_LENGTHS.filter((l) => l <= promptRoom(contextLength, EXAMPLE_ANSWER_TOKENS));
  return fit.length ? fit : [EXAMPLE_LENGTHS[0] ?? 128];
}

/** `wanted` if offered, else the longest offered length below it (else the shortest). */
export function pickExampleLength(wanted: number, lengths: readonly number[]): number {
  if (lengths.includes(wanted)) return wanted;
  const below = lengths.filter((l) => l < wanted);
  return below.length ? Math.max(...below) : (lengths[0] ?? wanted);
}

export interface PlaygroundSlice {
  readonly prompt: string;
  readonly maxNewTokens: number;
  readonly configs: readonly PlaygroundConfig[];
  readonly playgroundRunning: boolean;
  readonly playgroundError: string | null;
  /** The run in flight's requestId (cancelPlayground names it), and how far its call.progress events say it has got. */
  readonly playgroundRequest: string | null;
  readonly playgroundProgress: CallProgress | null;
  readonly response: PlaygroundResponse | null;
  /** Overlay: layer index, and a KV head index or 'all' (shade by the share of heads that kept a token). */
  readonly overlayLayer: number;
  readonly overlayHead: number | 'all';
  readonly exampleOptions: ExampleOptions;
  /** The last example inserted (its needle and answers), until another replaces it. */
  readonly example: PlaygroundExample | null;
  readonly exampleLoading: boolean;
  readonly exampleError: string | null;
  /** The example whose needle is in the prompt the shown response ran on: the answer check and the needle jump use it. */
  readonly responseExample: PlaygroundExample | null;
  /** Per model id: the speed its last Playground run measured (the builder's time estimate falls back on it). */
  readonly playgroundSpeeds: Readonly<Record<string, MeasuredSpeed>>;
  setExampleOptions(patch: Partial<ExampleOptions>): void;
  /**
   * Asks the engine for the example the options describe (its length fitted to `contextLength`, the
   * model's context) and puts it in the prompt, with the workload's generation cap. With `ifEmpty`
   * (the automatic first example), a prompt the user wrote meanwhile is left alone.
   */
  insertExample(modelId: string, opts?: { readonly contextLength?: number; readonly ifEmpty?: boolean }): Promise<void>;
  setPrompt(prompt: string): void;
  setMaxNewTokens(n: number): void;
  setConfig(index: number, patch: Partial<PlaygroundConfig>): void;
  addConfig(): void;
  removeConfig(index: number): void;
  setOverlay(patch: { layer?: number; head?: number | 'all' }): void;
  runPlayground(modelId: string): Promise<void>;
  /** Asks the engine to stop the run in flight; the run then ends without a response or an error. */
  cancelPlayground(): Promise<void>;
  /** A call.progress event: kept when it is the run in flight's. */
  handlePlaygroundProgress(e: CallProgress): void;
}

export const createPlaygroundSlice: SliceCreator<PlaygroundSlice> = (set, get, api) => ({
  // Filled with DEFAULT_EXAMPLE when the Playground first opens on a model (insertExample).
  prompt: '',
  maxNewTokens: 48,
  configs: [
    { method: 'snapkv/uniform', budget: '20%' },
    { method: 'snapkv/zigzagkv', budget: '20%' },
  ],
  playgroundRunning: false,
  playgroundError: null,
  playgroundRequest: null,
  playgroundProgress: null,
  response: null,
  overlayLayer: 0,
  overlayHead: 'all',
  exampleOptions: DEFAULT_EXAMPLE,
  example: null,
  exampleLoading: false,
  exampleError: null,
  responseExample: null,
  playgroundSpeeds: {},
  ...exampleActions(set, get, api),
  ...editActions(set, get, api),
  ...runAction(set, get, api),
});

/** The example picker's options, and inserting the example they describe into the prompt. */
const exampleActions: SliceCreator<Pick<PlaygroundSlice, 'setExampleOptions' | 'insertExample'>> = (set, get, api) => ({
  setExampleOptions: (patch) => set((s) => ({ exampleOptions: { ...s.exampleOptions, ...patch } })),
  insertExample: async (modelId, opts = {}) => {
    const o = get().exampleOptions;
    const contextLength = pickExampleLength(o.contextLength, exampleLengths(opts.contextLength));
    set({ exampleLoading: true, exampleError: null });
    try {
      const example = await api.playgroundExample({ modelId, kind: o.kind, contextLength, depth: o.depth, template: o.template, seed: o.seed });
      if (opts.ifEmpty && get().prompt !== '') return set({ exampleLoading: false });
      set((s) => ({
        example,
        prompt: example.prompt,
        maxNewTokens: example.maxNewTokens,
        exampleLoading: false,
        exampleOptions: { ...s.exampleOptions, contextLength },
      }));
    } catch (e) {
      set({ exampleLoading: false, exampleError: errorMessage(e) });
    }
  },
});

/** The prompt, the generation cap, the configurations (at most MAX_PLAYGROUND_CONFIGS) and the overlay's layer and head. */
const editActions: SliceCreator<Pick<PlaygroundSlice, 'setPrompt' | 'setMaxNewTokens' | 'setConfig' | 'addConfig' | 'removeConfig' | 'setOverlay'>> = (
  set,
) => ({
  setPrompt: (prompt) => set({ prompt }),
  setMaxNewTokens: (maxNewTokens) => set({ maxNewTokens }),
  setConfig: (index, patch) => set((s) => ({ configs: s.configs.map((c, i) => (i === index ? { ...c, ...patch } : c)) })),
  addConfig: () =>
    set((s) =>
      s.configs.length >= MAX_PLAYGROUND_CONFIGS ? {} : { configs: [...s.configs, { method: 'snapkv/pyramidkv', budget: s.configs[0]?.budget ?? '20%' }] },
    ),
  removeConfig: (index) => set((s) => ({ configs: s.configs.filter((_, i) => i !== index) })),
  setOverlay: ({ layer, head }) => set({ ...(layer !== undefined ? { overlayLayer: layer } : {}), ...(head !== undefined ? { overlayHead: head } : {}) }),
});

/**
 * One run: the response, the example it answers (if any), the overlay's layer kept in range, and the speed it measured;
 * its progress while it runs, and cancelling it (the last response stays).
 */
const runAction: SliceCreator<Pick<PlaygroundSlice, 'runPlayground' | 'cancelPlayground' | 'handlePlaygroundProgress'>> = (set, get, api) => ({
  handlePlaygroundProgress: (e) => {
    if (e.requestId === get().playgroundRequest) set({ playgroundProgress: e });
  },
  cancelPlayground: () => cancelRequest(api, get().playgroundRequest, (e) => get().reportError(e, 'Cancel')),
  runPlayground: async (modelId) => {
    const { prompt, maxNewTokens, configs, example } = get();
    const requestId = newRequestId('playground');
    set({ playgroundRunning: true, playgroundError: null, playgroundRequest: requestId, playgroundProgress: null });
    const done = { playgroundRunning: false, playgroundRequest: null, playgroundProgress: null };
    try {
      const response = await api.runPlayground({ modelId, prompt, maxNewTokens, configs: [...configs], requestId });
      const layers = response.results.find((r) => r.kept.length)?.kept.length ?? 0;
      // An example still counts while its needle is in the prompt (the user may have edited around it).
      const responseExample = example && example.needle && prompt.includes(example.needle) ? example : null;
      const speed = speedFromPlayground(response.results[0]);
      set((s) => ({
        ...done,
        response,
        responseExample,
        overlayLayer: Math.min(s.overlayLayer, Math.max(0, layers - 1)),
        ...(speed ? { playgroundSpeeds: { ...s.playgroundSpeeds, [modelId]: speed } } : {}),
      }));
    } catch (e) {
      set({ ...done, playgroundError: isCancelled(e) ? null : errorMessage(e) });
      if (isCancelled(e)) get().notify('info', 'The Playground run was cancelled.');
    }
  },
});
