/**
 * What a run's folder holds, read back: its result rows (getResults), one
 * sample rebuilt with its tokens (getSample), and a report in any format
 * (exportReport, written by electron/reports into a temporary folder).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { AnyRow, ExportedFile, LabHandlers, LabParsedInput, SampleDetail } from '@kvlab/core';
import { ApiError } from '@kvlab/core';
import type { EngineOpener, OpenedModel } from '../engine/inference-engine.ts';
import { findSample } from '../experiments/prompts.ts';
import { EXPERIMENT_FILE, readRows } from '../experiments/store.ts';
import { writeReport } from '../reports/index.ts';
import type { RunStore } from './run-store.ts';

const MIME: Readonly<Record<string, string>> = {
  html: 'text/html',
  pdf: 'application/pdf',
  csv: 'text/csv',
  json: 'application/json',
};

/** A run's name as a file name: lowercase words joined by dashes. */
function slug(s: string): string {
  return (
    s
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 60) || 'run'
  );
}

export interface RunResultsOptions {
  readonly store: RunStore;
  /** The model the engine session holds, reused when it is the run's (rebuilding samples needs its tokenizer). */
  readonly loadedModel: () => OpenedModel | undefined;
  /** Opens the run's model otherwise (the service's one opener; only its config and tokenizer are read, and its engine only for model-sampled texts). */
  readonly openModel: EngineOpener;
  /** Relative paths in experiments resolve here. */
  readonly baseDir: string;
  readonly cacheDir: string | undefined;
}

export class RunResults {
  constructor(private readonly opts: RunResultsOptions) {}

  handlers(): Pick<LabHandlers, 'getResults' | 'getSample' | 'exportReport'> {
    return {
      getResults: (input) => Promise.resolve(this.results(input)),
      getSample: (input) => this.sample(input),
      exportReport: (input) => this.exportReport(input),
    };
  }

  private results(input: LabParsedInput<'getResults'>): { rows: AnyRow[]; total: number } {
    const r = this.opts.store.get(input.runId);
    if (!existsSync(join(r.outDir, EXPERIMENT_FILE))) return { rows: [], total: 0 };
    const rows = readRows(r.outDir) as unknown as AnyRow[];
    return { rows: rows.slice(input.offset, input.offset + input.limit), total: rows.length };
  }

  private async sample(input: LabParsedInput<'getSample'>): Promise<SampleDetail> {
    const r = this.opts.store.get(input.runId);
    // The runner's own code rebuilds the samples (they depend on the model's tokenizer); the loaded model is reused when it is the run's.
    const loaded = this.opts.loadedModel();
    const load = (path: string): Promise<OpenedModel> => {
      if (loaded && resolve(loaded.path) === resolve(path)) return Promise.resolve(loaded);
      if (!existsSync(path)) throw new ApiError('E_NOT_FOUND', `${path}: the run's model is needed to rebuild its samples and is gone`, { file: path });
      return this.opts.openModel(path, { floatWeights: 'auto' });
    };
    const where = { baseDir: this.opts.baseDir, ...(this.opts.cacheDir ? { cacheDir: this.opts.cacheDir } : {}) };
    const found = await findSample(r.experiment, input.sampleId, where, load);
    if (!found) throw new ApiError('E_NOT_FOUND', `run '${r.id}' has no sample '${input.sampleId}'`);
    const { sample, model, promptIds } = found;
    return {
      sampleId: sample.id,
      workload: sample.workload,
      prompt: sample.prompt,
      tokens: promptIds.map((t) => model.tokenizer.piece(t)),
      answers: [...sample.answers],
    };
  }

  private async exportReport(input: LabParsedInput<'exportReport'>): Promise<ExportedFile> {
    const r = this.opts.store.get(input.runId);
    if (!existsSync(join(r.outDir, EXPERIMENT_FILE))) throw new ApiError('E_NOT_FOUND', `run '${r.id}' has no results yet`);
    const tmp = mkdtempSync(join(tmpdir(), 'kvlab-export-'));
    try {
      const out = join(tmp, `report.${input.format}`);
      await writeReport(r.outDir, input.format, out);
      const binary = input.format === 'pdf';
      const data = readFileSync(out);
      return {
        fileName: `${slug(r.name)}.${input.format}`,
        mimeType: MIME[input.format] ?? 'application/octet-stream',
        encoding: binary ? 'base64' : 'utf8',
        data: binary ? data.toString('base64') : data.toString('utf8'),
      };
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }
}
