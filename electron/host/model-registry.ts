/**
 * The models the lab knows, by id (a short sha256 of the resolved path): the
 * bundled default plus every model opened. listModels / openModel /
 * getModelCard live here; which one is loaded is the engine session's to say.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import type { ExperimentDef, LabEvent, LabHandlers, ModelCard } from '@kvlab/core';
import { ApiError } from '@kvlab/core';
import { inspectModel } from '../engine/load.ts';
import { toApiError } from './errors.ts';
import type { KnownModel } from './model-card.ts';
import { modelCard, modelMetadata, modelSummary } from './model-card.ts';

/** Stable model id: a short hash of the resolved path. */
export function modelIdFor(path: string): string {
  return createHash('sha256').update(resolve(path)).digest('hex').slice(0, 12);
}

export interface ModelRegistryOptions {
  /** The bundled default model, or null when there is none. */
  readonly defaultModel: string | null;
  /** Relative model paths in experiments resolve here. */
  readonly baseDir: string;
  /** Which model's engine is open (the engine session knows). */
  readonly loadedModelId: () => string | null;
  readonly emit: (e: LabEvent) => void;
}

export class ModelRegistry {
  private readonly models = new Map<string, KnownModel>();
  readonly defaultModelId: string | null = null;

  constructor(private readonly opts: ModelRegistryOptions) {
    if (opts.defaultModel === null) return;
    try {
      this.defaultModelId = this.add(opts.defaultModel, true).id;
    } catch (e) {
      // The app still works without its default model: the user opens another. Say why once.
      process.stderr.write(`kvlab: default model unavailable: ${toApiError(e).message}\n`);
    }
  }

  /** The known model with this id; E_NOT_FOUND otherwise. */
  get(modelId: string): KnownModel {
    const m = this.models.get(modelId);
    if (!m) throw new ApiError('E_NOT_FOUND', `no model with id '${modelId}' (open it first; listModels says which are known)`);
    return m;
  }

  /** Adds a model file or folder (inspecting its header) unless it is known; emits models.changed when it is new. */
  open(path: string): ModelCard {
    const before = this.models.size;
    const m = this.add(path, false);
    if (this.models.size !== before) this.opts.emit({ type: 'models.changed' });
    return modelCard(m, this.opts.loadedModelId());
  }

  /** Model entries of a submitted experiment: a known model id becomes its path; paths resolve against baseDir and must exist. */
  resolveExperimentModels(def: ExperimentDef): { def: ExperimentDef; modelIds: string[] } {
    const models = def.models.map((m, i) => {
      const known = this.models.get(m);
      const path = known ? known.path : resolve(this.opts.baseDir, m);
      if (!existsSync(path)) throw new ApiError('E_NOT_FOUND', `experiment.models.${i}: ${path}: no such model file or folder`, { file: path });
      // A file that is not a model is refused now (E_MODEL, naming it), not by the run's first cell after it was queued.
      if (!known) inspectModel(path);
      return path;
    });
    return { def: { ...def, models }, modelIds: models.map(modelIdFor) };
  }

  handlers(): Pick<LabHandlers, 'listModels' | 'openModel' | 'getModelCard'> {
    return {
      listModels: () => {
        const all = [...this.models.values()].sort((a, b) => Number(b.bundled) - Number(a.bundled));
        return Promise.resolve(all.map((m) => modelSummary(m, this.opts.loadedModelId())));
      },
      openModel: (input) => Promise.resolve(this.open(input.path)),
      getModelCard: (input) => Promise.resolve(modelCard(this.get(input.modelId), this.opts.loadedModelId())),
    };
  }

  private add(path: string, bundled: boolean): KnownModel {
    const abs = resolve(path);
    const id = modelIdFor(abs);
    const known = this.models.get(id);
    if (known) return known;
    if (!existsSync(abs)) throw new ApiError('E_NOT_FOUND', `${abs}: no such file or folder`, { file: abs });
    const info = inspectModel(abs);
    const fileName = basename(info.path).replace(/\.(gguf|bin)$/i, '');
    const name = info.name && info.name.toLowerCase() !== info.architecture ? info.name : fileName;
    const m: KnownModel = { id, path: info.path, bundled, name, info, metadata: modelMetadata(info) };
    this.models.set(id, m);
    return m;
  }
}
