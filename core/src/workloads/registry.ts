/**
 * The single registry of workload kinds: the list that drives the experiment
 * schema, the runner's sample generation, the files the host reads, the
 * builder's form and its cost estimate, and the fake API's runs.
 *
 * Nothing registers itself at import time: adding a kind is one file plus one
 * line here (docs/adding-a-workload.md).
 */
import { z } from 'zod';
import { WorkloadError } from './errors.ts';
import { fidelity } from './fidelity.ts';
import { longbench } from './longbench.ts';
import { niah } from './niah.ts';
import { ruler } from './ruler.ts';
import { parseWorkload } from './types.ts';
import type { GenerateOptions, Sample } from './types.ts';
import type { SampleGrid, WorkloadField, WorkloadFormValues, WorkloadKindDef, WorkloadSources } from './workload.ts';

export const WORKLOADS = { niah, ruler, fidelity, longbench } as const satisfies { readonly [K in string]: WorkloadKindDef<K, z.ZodType> };

export type WorkloadKind = keyof typeof WORKLOADS;
type Schema = (typeof WORKLOADS)[WorkloadKind]['schema'];

/** The kinds, in the registry's order (the builder's "+ kind" buttons). */
export const WORKLOAD_KINDS = Object.keys(WORKLOADS) as WorkloadKind[];

/** One workload of an experiment, discriminated on `kind`: the union of the registry's schemas. Unknown keys are rejected. */
export const workloadDef = z.discriminatedUnion('kind', Object.values(WORKLOADS).map((w) => w.schema) as unknown as [Schema, ...Schema[]]);

/** A parsed workload (defaults filled in). */
export type WorkloadDef = z.output<typeof workloadDef>;
/** A workload as written in an experiment file (defaults optional). */
export type WorkloadDefInput = z.input<typeof workloadDef>;

export function isWorkloadKind(kind: unknown): kind is WorkloadKind {
  return typeof kind === 'string' && Object.prototype.hasOwnProperty.call(WORKLOADS, kind);
}

/*
 * The erased view below is sound because a definition always reaches its own
 * kind's functions: the lookup is by its `kind`, which its schema fixes.
 */

/** The registry entry of a kind; throws a WorkloadError listing the known kinds. */
export function getWorkload(kind: string): WorkloadKindDef<string, z.ZodType> {
  if (!isWorkloadKind(kind)) throw new WorkloadError(kind, `unknown workload kind; known: ${WORKLOAD_KINDS.join(', ')}`);
  return WORKLOADS[kind] as unknown as WorkloadKindDef<string, z.ZodType>;
}

/** Parses one workload of an experiment file. */
export function parseWorkloadDef(def: unknown): WorkloadDef {
  return parseWorkload(workloadDef, def, typeof def === 'object' && def !== null && 'kind' in def ? String(def.kind) : 'definition');
}

/**
 * One entry point for the runner: a workload definition (as written in an
 * experiment file) → its samples. `texts` are what `workloadSources` names,
 * read by the host.
 */
export function generateWorkload(def: WorkloadDefInput, opts: GenerateOptions): Sample[] {
  const d = parseWorkloadDef(def);
  return getWorkload(d.kind).generate(d, opts);
}

/** The files a parsed workload reads (the host resolves and reads them). */
export function workloadSources(def: WorkloadDef): WorkloadSources {
  return getWorkload(def.kind).sources(def);
}

/** The samples a workload as written expands to, without generating them (half-typed input tolerated; an unknown kind has none). */
export function sketchWorkload(def: WorkloadDefInput): SampleGrid {
  return isWorkloadKind(def.kind) ? getWorkload(def.kind).sketch(def) : { samples: [], exact: true };
}

/** The builder's fields for a kind. */
export function workloadFields(kind: WorkloadKind): readonly WorkloadField[] {
  return WORKLOADS[kind].form;
}

/** A new workload's form values: each field's initial value. */
export function workloadFormDefaults(kind: WorkloadKind): WorkloadFormValues {
  return Object.fromEntries(workloadFields(kind).map((f) => [f.key, f.initial]));
}

/** The definition a builder form describes, field by field (a missing value takes the field's initial one). Not validated: parseExperiment names what is wrong. */
export function workloadFromForm(kind: WorkloadKind, values: WorkloadFormValues): WorkloadDefInput {
  const entries = workloadFields(kind).map((f) => f.write(values[f.key] ?? f.initial));
  return Object.assign({ kind }, ...entries) as WorkloadDefInput;
}
