/**
 * downloadModel: fetches a model from the Hugging Face Hub (hf-download.ts)
 * into the models folder, then opens it like openModel. model.download events
 * report the bytes; one download at a time per repo; cancelCall stops one
 * given a requestId, and closing the lab (calls.ts) stops them all.
 */
import type { LabEvent, LabHandlers, LabParsedInput, ModelCard } from '@kvlab/core';
import { ApiError } from '@kvlab/core';
import { toApiError } from './errors.ts';
import type { CallControl } from './calls.ts';
import { downloadHfModel, hfLocalDir } from './hf-download.ts';
import type { ModelRegistry } from './model-registry.ts';

export interface ModelDownloadsOptions {
  /** Parent of the per-repo folders (<owner>--<name>/ each). */
  readonly modelsDir: string;
  readonly registry: ModelRegistry;
  readonly emit: (e: LabEvent) => void;
  /** Lets cancelCall stop a download given a requestId. */
  readonly calls: CallControl;
}

export class ModelDownloads {
  /** Downloads in flight, by local folder: one at a time per repo. */
  private readonly inFlight = new Set<string>();

  constructor(private readonly opts: ModelDownloadsOptions) {}

  handlers(): Pick<LabHandlers, 'downloadModel'> {
    return { downloadModel: (input) => this.download(input) };
  }

  /** Every download runs as a cancellable call: cancelCall stops one given a requestId, and the lab's close stops them all. */
  private download(input: LabParsedInput<'downloadModel'>): Promise<ModelCard> {
    return this.opts.calls.cancellable(input.requestId, (signal) => this.fetchModel(input, signal));
  }

  private async fetchModel(input: LabParsedInput<'downloadModel'>, signal: AbortSignal): Promise<ModelCard> {
    const key = hfLocalDir(this.opts.modelsDir, input.repo);
    if (this.inFlight.has(key)) throw new ApiError('E_BUSY', `${input.repo} is already being downloaded`);
    this.inFlight.add(key);
    const file = input.file ?? '';
    let last = { bytesDone: 0, bytesTotal: 0 };
    const emit = (done: boolean, error?: string): void =>
      this.opts.emit({ type: 'model.download', repo: input.repo, file, ...last, done, ...(error !== undefined ? { error } : {}) });
    try {
      const r = await downloadHfModel({
        repo: input.repo,
        revision: input.revision,
        ...(input.file !== undefined ? { file: input.file } : {}),
        modelsDir: this.opts.modelsDir,
        signal,
        onProgress: (p) => {
          last = { bytesDone: p.bytesDone, bytesTotal: p.bytesTotal };
          emit(false);
        },
      });
      last = { bytesDone: r.bytes, bytesTotal: Math.max(last.bytesTotal, r.bytes) };
      const card = this.opts.registry.open(r.path);
      emit(true);
      return card;
    } catch (e) {
      const err = toApiError(e);
      emit(true, err.message);
      throw err;
    } finally {
      this.inFlight.delete(key);
    }
  }
}
