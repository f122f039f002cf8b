/**
 * Turns a workload definition into samples: reads the files its registry
 * entry names (`workloadSources`: haystack texts, LongBench JSONL, text
 * sampled from the model) and calls core's pure generators, which never
 * touch the file system.
 *
 * Text names resolve in the experiment's `texts` folder, else in ../shared/texts
 * next to the app (the public-domain books shipped for tests), else relative
 * to the experiment file. A missing file is an error naming it.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import type { Sample, TokenCounter, WorkloadDef } from '@kvlab/core';
import { generateWorkload, LabError, workloadSources } from '@kvlab/core';
import type { Tokenizer } from '../engine/model.ts';

export interface SampleContext {
  readonly seed: number;
  readonly counter: TokenCounter;
  /** The experiment file's folder. */
  readonly baseDir: string;
  readonly textsDir?: string;
  /** Text sampled from the model itself, for fidelity workloads with texts: 'sampled' (in-domain for small models). */
  readonly sampledText?: string;
}

/**
 * How workload lengths are counted for a model: its tokenizer's pieces of the text, without the BOS
 * the engine adds to a prompt. The runner, the demo model's training data and the e2e test all
 * generate samples with it, so their lengths agree.
 */
export function tokenCounter(tokenizer: Pick<Tokenizer, 'encode'>): TokenCounter {
  return { count: (t: string) => tokenizer.encode(t, { addBos: false }).length };
}

const APP_ROOT = resolve(import.meta.dirname, '..', '..');

/** A text or LongBench file a workload names is not there. */
export class WorkloadFileError extends LabError {
  readonly code = 'E_WORKLOAD_FILE' as const;
  readonly apiCode = 'E_NOT_FOUND' as const;
  constructor(
    readonly file: string,
    readonly problem: string,
  ) {
    super(`${file}: ${problem}`);
    this.name = 'WorkloadFileError';
  }
  override get apiDetails(): { file: string } {
    return { file: this.file };
  }
}

function findText(name: string, ctx: Pick<SampleContext, 'baseDir' | 'textsDir'>): string {
  const candidates = isAbsolute(name)
    ? [name]
    : [
        ...(ctx.textsDir ? [join(ctx.textsDir, name)] : []),
        join(process.env['KVLAB_SHARED'] ?? join(APP_ROOT, '..', 'shared'), 'texts', name),
        join(ctx.baseDir, name),
      ];
  const hit = candidates.find((p) => existsSync(p));
  if (!hit) throw new WorkloadFileError(name, `text not found (looked in ${candidates.join(', ')})`);
  return hit;
}

function readTexts(names: readonly string[], ctx: SampleContext): string[] {
  return names.map((n) => readFileSync(findText(n, ctx), 'utf8'));
}

function longBenchPath(path: string, ctx: Pick<SampleContext, 'baseDir'>): string {
  const p = isAbsolute(path) ? path : join(ctx.baseDir, path);
  if (!existsSync(p)) throw new WorkloadFileError(p, 'LongBench file or folder not found');
  return p;
}

/** The texts a workload reads, as its registry entry names them: text files, LongBench JSONL contents, or the model-sampled text. */
function textsFor(w: WorkloadDef, ctx: SampleContext): readonly string[] | undefined {
  const src = workloadSources(w);
  switch (src.kind) {
    case 'none':
      return undefined;
    case 'texts':
      return readTexts(src.names, ctx);
    case 'sampled':
      if (ctx.sampledText === undefined) throw new WorkloadFileError(w.kind, "texts: 'sampled' needs text sampled from the model");
      return [ctx.sampledText];
    case 'jsonl': {
      const path = longBenchPath(src.path, ctx);
      const files = statSync(path).isDirectory()
        ? readdirSync(path)
            .filter((f) => f.endsWith('.jsonl'))
            .sort()
            .map((f) => join(path, f))
        : [path];
      return files.map((f) => readFileSync(f, 'utf8'));
    }
  }
}

/**
 * Throws WorkloadFileError, naming the file, for the first text or LongBench
 * path of `workloads` that does not exist: checked when a run is submitted, so
 * a missing haystack is refused at once rather than failing the queued run.
 */
export function checkWorkloadFiles(workloads: readonly WorkloadDef[], ctx: Pick<SampleContext, 'baseDir' | 'textsDir'>): void {
  for (const w of workloads) {
    const src = workloadSources(w);
    if (src.kind === 'texts') for (const n of src.names) findText(n, ctx);
    if (src.kind === 'jsonl') longBenchPath(src.path, ctx);
  }
}

export function samplesForWorkload(w: WorkloadDef, ctx: SampleContext): Sample[] {
  const texts = textsFor(w, ctx);
  return generateWorkload(w, { seed: ctx.seed, counter: ctx.counter, ...(texts ? { texts } : {}) });
}
