/**
 * The one way the host gets an inference engine for a model. Every part that
 * opens a model (the engine session behind the playground, the example
 * builder and the layer profile) calls an `OpenEngine`, never `loadModel` or
 * `Engine.create` itself, so a test can run the whole host over a fake or a
 * recording engine, and a different engine type needs one change here.
 */
import type { Settings } from '@kvlab/core';
import { Engine } from '../engine/engine.ts';
import { loadModel } from '../engine/load.ts';
import type { LoadedModel } from '../engine/model.ts';

export interface OpenEngineRequest {
  /** The model file or folder (absolute). */
  readonly path: string;
  /** The settings in force: floatWeights, kvType, executionProvider and threads apply. */
  readonly settings: Settings;
  /** Graph cache folder; undefined: the engine's default. */
  readonly cacheDir: string | undefined;
}

export interface OpenedEngine {
  readonly model: LoadedModel;
  readonly engine: Engine;
}

export type OpenEngine = (request: OpenEngineRequest) => Promise<OpenedEngine>;

/** The real path: load the weights (float type per the settings), then build the onnxruntime session. */
export const openRealEngine: OpenEngine = async ({ path, settings, cacheDir }) => {
  const model = await loadModel(path, { floatWeights: settings.floatWeights ?? 'auto' });
  const engine = await Engine.create(model, {
    executionProvider: settings.executionProvider,
    // 0 means "onnxruntime's choice", which is what leaving the option out asks for.
    ...(settings.threads > 0 ? { threads: settings.threads } : {}),
    kvType: settings.kvType ?? 'f32',
    ...(cacheDir ? { cacheDir } : {}),
  });
  return { model, engine };
};
