/**
 * What one workload kind is, in one object: the shape every file under
 * `workloads/` exports and `workloads/registry.ts` lists. A kind brings
 *
 * - `schema`: its zod schema (the experiment schema is the union of these);
 * - `generate`: the pure, seeded generator that expands a definition into samples;
 * - `sketch`: the same samples' ids, names and lengths without generating
 *   them (no tokenizer, no files), tolerant of a half-typed definition — the
 *   builder's cost estimate and the fake API's runs use it. A kind builds its
 *   sample ids with one helper that both `generate` and `sketch` call, so the
 *   two cannot drift;
 * - `sources`: which files the host must read for it (texts, JSONL, text
 *   sampled from the model) — the host reads them, the core never does;
 * - `form`: the builder's fields, each with its initial text and how it
 *   writes into the definition.
 *
 * Adding a kind is one file plus one line in the registry (docs/adding-a-workload.md).
 */
import type { z } from 'zod';
import type { GenerateOptions, Sample } from './types.ts';

/** One sample a definition expands to, sketched: enough to label a cell and size its prompt. */
export interface SampleSketch {
  readonly id: string;
  readonly workload: string;
  readonly promptTokens: number;
  readonly metric: string;
  readonly meta: Readonly<Record<string, string | number | boolean>>;
}

/** The samples of one workload, in the generator's order. `exact` is false where the count depends on a file (LongBench). */
export interface SampleGrid {
  readonly samples: SampleSketch[];
  readonly exact: boolean;
}

/** The files a workload reads, which the host resolves and passes to the generator as `texts`. */
export type WorkloadSources =
  | { readonly kind: 'none' }
  /** Text files by name, in this order. */
  | { readonly kind: 'texts'; readonly names: readonly string[] }
  /** Text the host samples from the model under test. */
  | { readonly kind: 'sampled' }
  /** A JSONL file, or a folder of them (read in name order). */
  | { readonly kind: 'jsonl'; readonly path: string };

/** A builder form's values: field key → what the user typed or ticked. */
export type WorkloadFormValues = Readonly<Record<string, string | boolean>>;

/** One field of the builder's workload form. */
export interface WorkloadField {
  /** The key in the form's values. */
  readonly key: string;
  readonly label: string;
  /** text: a text input; select: one of `options`; check: a checkbox. */
  readonly control: 'text' | 'select' | 'check';
  /** select: [value, label] pairs. */
  readonly options?: readonly (readonly [string, string])[];
  /** Shown in an empty text input; a function sees the other values (a default name that follows the variant). */
  readonly placeholder?: string | ((values: WorkloadFormValues) => string);
  readonly title?: string;
  /** The suffix of the builder's test id (`builder-w<index>-<testId>`). */
  readonly testId: string;
  /** The value a new workload starts with. */
  readonly initial: string | boolean;
  /** The definition entries this value writes; none where the schema's default should apply. */
  write(value: string | boolean): Readonly<Record<string, unknown>>;
}

/** One workload kind. Methods (not arrow properties) so that a table of kinds with different schemas type-checks. */
export interface WorkloadKindDef<K extends string, S extends z.ZodType> {
  readonly kind: K;
  /** One line for the builder and the docs. */
  readonly summary: string;
  readonly schema: S;
  generate(def: z.input<S>, opts: GenerateOptions): Sample[];
  /** Tolerates half-typed input (NaN, missing fields): the builder calls it on every keystroke. */
  sketch(def: z.input<S>): SampleGrid;
  sources(def: z.output<S>): WorkloadSources;
  readonly form: readonly WorkloadField[];
}

// -- Tolerant readers, for sketches of half-typed definitions ----------------------

/** The finite numbers of a list, each once, in first-seen order (generators skip repeated lengths the same way). */
export const uniqueNumbers = (xs: unknown): number[] =>
  Array.isArray(xs) ? [...new Set(xs.filter((x): x is number => typeof x === 'number' && Number.isFinite(x)))] : [];

/** A positive integer, else `fallback` (the schema's default). */
export const countOr = (x: unknown, fallback: number): number => (typeof x === 'number' && Number.isInteger(x) && x > 0 ? x : fallback);

// -- Form codecs: text the user typed → definition entries -------------------------

/** "256, 512 1024" → [256, 512, 1024]; anything not a number stays NaN so validation names it. */
export function parseNumberList(text: string): number[] {
  return text
    .split(/[\s,;]+/)
    .filter((t) => t !== '')
    .map((t) => (/^[-+]?\d*\.?\d+(e[-+]?\d+)?$/i.test(t) ? Number(t) : Number.NaN));
}

/** A single number field: '' → undefined (the schema's default applies); not a number → NaN. */
export function optionalNumber(text: string): number | undefined {
  const t = text.trim();
  if (t === '') return undefined;
  return /^[-+]?\d*\.?\d+$/.test(t) ? Number(t) : Number.NaN;
}

/** "a.txt, b.txt" → ['a.txt', 'b.txt']. */
export const nameList = (text: string): string[] =>
  text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

const str = (v: string | boolean): string => (typeof v === 'string' ? v : '');

/** Ready-made `write`s: each form value written as the schema wants it, and left out where the default should apply. */
export const writeAs = {
  numbers: (key: string) => (v: string | boolean) => ({ [key]: parseNumberList(str(v)) }),
  /** Left out when empty (the default applies). */
  optionalNumber: (key: string) => (v: string | boolean) => {
    const n = optionalNumber(str(v));
    return n === undefined ? {} : { [key]: n };
  },
  /** Required: an empty field becomes NaN, so validation names it. */
  number: (key: string) => (v: string | boolean) => ({ [key]: optionalNumber(str(v)) ?? Number.NaN }),
  text: (key: string) => (v: string | boolean) => ({ [key]: str(v).trim() }),
  /** Left out when empty. */
  optionalText: (key: string) => (v: string | boolean) => (str(v).trim() ? { [key]: str(v).trim() } : {}),
  /** Left out when empty. */
  names: (key: string) => (v: string | boolean) => (nameList(str(v)).length ? { [key]: nameList(str(v)) } : {}),
  choice: (key: string) => (v: string | boolean) => ({ [key]: str(v) }),
  /** Written only when it differs from the default, so the experiment JSON stays as short as the CLI's examples. */
  unlessDefault: (key: string, fallback: string | boolean) => (v: string | boolean) => (v === fallback ? {} : { [key]: v }),
} as const;

/** [value, value] pairs for a select whose labels are its values. */
export const plainOptions = (values: readonly string[]): readonly (readonly [string, string])[] => values.map((v) => [v, v] as const);
