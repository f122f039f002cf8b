/**
 * The experiment builder: a form (models × scorers × allocators (+ Ada-KV)
 * × budgets × workloads) that becomes an experiment definition — the same JSON
 * `kvlab run` takes — validated by core's own `parseExperiment`, so the
 * builder's messages are exactly the CLI's ("budgets.0: …", "workloads.1.depths: …").
 *
 * The form keeps number lists as the text the user typed ("256, 512"), so a
 * half-typed value shows as a validation message instead of being silently
 * dropped; `builderExperiment` turns the form into an ExperimentInput.
 * Method choices and their parameter presets come from describeMethods()
 * (core's registry and PRESETS, through the API); workload kinds, their fields
 * and how each field writes into the definition from core's workload registry.
 */
import type { ExperimentInput, MethodInfo, ModelSummary, RunSummary, WorkloadDefInput, WorkloadFormValues, WorkloadKind } from '@kvlab/core';
import {
  errorMessage,
  optionalNumber,
  parseBudget,
  parseExperiment,
  promptRoom,
  resolveBudget,
  WORKLOAD_KINDS,
  workloadFormDefaults,
  workloadFromForm,
} from '@kvlab/core';
import type { SliceCreator } from './types.ts';

/**
 * A workload in the form: its kind and the text typed (or box ticked) in each of
 * the fields its registry entry lists (core's `workloadFields`).
 */
export interface WorkloadForm {
  readonly kind: WorkloadKind;
  readonly [field: string]: string | boolean;
}

export type { WorkloadKind };
export type AdaMode = 'off' | 'also' | 'only';

export interface BuilderForm {
  readonly name: string;
  readonly modelIds: readonly string[];
  readonly includeFull: boolean;
  readonly scorers: readonly string[];
  readonly allocators: readonly string[];
  /** Ada-KV head-wise split: not used, added next to each method, or instead of the plain method. */
  readonly ada: AdaMode;
  /** Parameter preset chosen per method id (a key of MethodInfo.presets); absent = defaults. */
  readonly paramPresets: Readonly<Record<string, string>>;
  /** Budget strings, comma-separated ("10%, 20%, 128"). */
  readonly budgets: string;
  readonly workloads: readonly WorkloadForm[];
  readonly seed: string;
  readonly recordKept: boolean;
  /** Overrides each sample's generation cap; empty = the sample's own. */
  readonly maxNewTokens: string;
  /**
   * Method entries added from elsewhere in the app, run after the scorer × allocator grid: custom
   * layer allocations saved on the Layer profile (ZigZagKV over a static profile, each with its own label).
   */
  readonly customMethods: readonly CustomMethodEntry[];
}

/** A labelled method entry with parameters (what the Layer profile's "Save custom allocation" produces). */
export type CustomMethodEntry = Exclude<ExperimentInput['methods'][number], string> & { readonly label: string };

/** A new workload of each kind, as the registry's form fields start. */
export const DEFAULT_WORKLOADS: { readonly [K in WorkloadKind]: WorkloadForm } = Object.fromEntries(
  WORKLOAD_KINDS.map((k) => [k, { ...workloadFormDefaults(k), kind: k }]),
) as { readonly [K in WorkloadKind]: WorkloadForm };

export interface BuilderPreset {
  readonly id: string;
  readonly label: string;
  readonly description: string;
  readonly form: Omit<BuilderForm, 'modelIds' | 'seed' | 'recordKept' | 'maxNewTokens' | 'paramPresets' | 'customMethods'>;
}

export const BUILDER_PRESETS: readonly BuilderPreset[] = [
  {
    id: 'quick',
    label: 'Quick sweep (minutes on a laptop CPU)',
    description:
      'Full KV and SnapKV scoring under uniform, PyramidKV and ZigZagKV allocation at three keep ratios, on a small passkey grid and sampled-text fidelity.',
    form: {
      name: 'Quick sweep: ZigZagKV vs baselines',
      includeFull: true,
      scorers: ['snapkv'],
      allocators: ['uniform', 'pyramidkv', 'zigzagkv'],
      ada: 'off',
      budgets: '10%, 20%, 40%',
      workloads: [DEFAULT_WORKLOADS.niah, DEFAULT_WORKLOADS.fidelity],
    },
  },
  {
    id: 'paper',
    label: 'ZigZagKV vs baselines, paper setting',
    description:
      'The ZigZagKV paper’s comparison: SnapKV token scores with uniform (SnapKV), PyramidKV and ZigZagKV layer budgets, each with and without Ada-KV, at KV sizes 128–1024 tokens per layer, on a needle-in-a-haystack grid. Add a LongBench workload with your JSONL path for the paper’s tables.',
    form: {
      name: 'ZigZagKV vs baselines (paper setting)',
      includeFull: true,
      scorers: ['snapkv'],
      allocators: ['uniform', 'pyramidkv', 'zigzagkv'],
      ada: 'also',
      budgets: '128, 256, 512, 1024',
      workloads: [{ ...DEFAULT_WORKLOADS.niah, variant: 'single', contextLengths: '1024, 2048', depths: '0, 25, 50, 75, 100' }],
    },
  },
  {
    id: 'allocators',
    label: 'Layer allocators at equal memory',
    description: 'Every layer allocator under SnapKV scoring, from 10% to 50% of the prompt cache, scored by fidelity to the full cache (ΔNLL, KL, top-1).',
    form: {
      name: 'Layer allocators at equal memory',
      includeFull: true,
      scorers: ['snapkv'],
      allocators: ['uniform', 'pyramidkv', 'zigzagkv', 'cake'],
      ada: 'off',
      budgets: '10%, 20%, 30%, 50%',
      workloads: [{ ...DEFAULT_WORKLOADS.fidelity, promptTokens: '256, 448', samples: '4' }],
    },
  },
  {
    id: 'scorers',
    label: 'Token scorers (uniform allocation)',
    description: 'SnapKV, H2O, StreamingLLM, TOVA, Knorm and Random with the same budget in every layer.',
    form: {
      name: 'Token scorers',
      includeFull: true,
      scorers: ['snapkv', 'h2o', 'streamingllm', 'tova', 'knorm', 'random'],
      allocators: ['uniform'],
      ada: 'off',
      budgets: '20%, 40%',
      workloads: [DEFAULT_WORKLOADS.niah],
    },
  },
  {
    id: 'adakv',
    label: 'Head-wise: Ada-KV on top',
    description: 'Uniform and ZigZagKV layer budgets, each with and without Ada-KV’s head-wise split.',
    form: {
      name: 'Ada-KV head-wise split',
      includeFull: true,
      scorers: ['snapkv'],
      allocators: ['uniform', 'zigzagkv'],
      ada: 'also',
      budgets: '10%, 20%',
      workloads: [DEFAULT_WORKLOADS.niah, DEFAULT_WORKLOADS.fidelity],
    },
  },
];

const quick = BUILDER_PRESETS[0] as BuilderPreset;
export const INITIAL_BUILDER_FORM: BuilderForm = {
  ...quick.form,
  modelIds: [],
  seed: '0',
  recordKept: false,
  maxNewTokens: '',
  paramPresets: {},
  customMethods: [],
};

// -- Form → experiment ----------------------------------------------------------

/** The workload definition a form describes, field by field as its registry entry writes them. */
export function workloadInput(w: WorkloadForm): WorkloadDefInput {
  return workloadFromForm(w.kind, w);
}

type MethodEntry = ExperimentInput['methods'][number];

/** Parameters of the preset chosen for `id` (undefined: defaults). */
function presetParams(form: BuilderForm, methods: readonly MethodInfo[], id: string): { name: string; params: Record<string, unknown> } | undefined {
  const name = form.paramPresets[id];
  if (!name) return undefined;
  const params = methods.find((m) => m.id === id)?.presets[name];
  if (!params || typeof params !== 'object' || Object.keys(params).length === 0) return undefined;
  return { name, params: params as Record<string, unknown> };
}

/** The method entries: every scorer × allocator, with Ada-KV as chosen, and "full" first. Non-default presets become labelled entries with parameters. */
export function builderMethods(form: BuilderForm, methods: readonly MethodInfo[]): MethodEntry[] {
  const out: MethodEntry[] = form.includeFull ? ['full'] : [];
  for (const s of form.scorers)
    for (const a of form.allocators) {
      const specs = form.ada === 'off' ? [`${s}/${a}`] : form.ada === 'only' ? [`${s}/${a}+adakv`] : [`${s}/${a}`, `${s}/${a}+adakv`];
      for (const spec of specs) {
        const sp = presetParams(form, methods, s);
        const ap = presetParams(form, methods, a);
        const hp = spec.endsWith('+adakv') ? presetParams(form, methods, 'adakv') : undefined;
        if (!sp && !ap && !hp) {
          out.push(spec);
          continue;
        }
        const tags = [sp, ap, hp].filter((x) => x !== undefined).map((x) => x.name);
        out.push({
          method: spec,
          label: `${spec} [${tags.join('; ')}]`,
          ...(sp ? { scorer: sp.params } : {}),
          ...(ap ? { allocator: ap.params } : {}),
          ...(hp ? { headwise: hp.params } : {}),
        });
      }
    }
  out.push(...form.customMethods);
  return out;
}

export function builderExperiment(form: BuilderForm, models: readonly ModelSummary[], methods: readonly MethodInfo[]): ExperimentInput {
  const seed = optionalNumber(form.seed);
  const maxNewTokens = optionalNumber(form.maxNewTokens);
  return {
    name: form.name.trim(),
    models: form.modelIds.map((id) => models.find((m) => m.id === id)?.path ?? id),
    methods: builderMethods(form, methods),
    budgets: form.budgets
      .split(',')
      .map((b) => b.trim())
      .filter(Boolean),
    workloads: form.workloads.map(workloadInput),
    ...(seed !== undefined ? { seed } : {}),
    ...(maxNewTokens !== undefined ? { generation: { maxNewTokens } } : {}),
    ...(form.recordKept ? { record: { kept: true } } : {}),
  };
}

/**
 * Every problem with the experiment, as core's parseExperiment words it,
 * plus budgets that parse but cannot be met (0%, 150%), which the runner
 * would only reject at its first cell.
 */
export function validateExperiment(exp: ExperimentInput): string[] {
  const issues: string[] = [];
  try {
    parseExperiment(exp);
  } catch (e) {
    if (e !== null && typeof e === 'object' && 'issues' in e && Array.isArray(e.issues)) issues.push(...(e.issues as string[]));
    else issues.push(errorMessage(e));
  }
  exp.budgets.forEach((b, i) => {
    try {
      // Any shape and prompt length will do: ratios outside (0, 1] fail for all of them.
      resolveBudget(parseBudget(b), { numLayers: 1, numKvHeads: 1, headDim: 1, dtype: 'float32' }, 4096);
    } catch (err) {
      const msg = `budgets.${i}: ${errorMessage(err)}`;
      if (!issues.some((x) => x.startsWith(`budgets.${i}:`))) issues.push(msg);
    }
  });
  if (exp.models.length === 0) issues.unshift('Pick at least one model.');
  return issues;
}

/**
 * Workloads longer than a selected model's context: the runner cuts a
 * generative prompt that leaves no room for its answer (core's promptRoom, as
 * the runner's fitPrompt) in the middle, flagging the rows
 * 'truncated-to-context', and a fidelity prompt with its continuation runs
 * past what the model was trained for, so the cells would not test their
 * labelled length. One issue per model and workload, naming the lengths.
 */
export function contextIssues(
  exp: ExperimentInput,
  cards: readonly { readonly path: string; readonly name: string; readonly contextLength: number }[],
): string[] {
  const issues: string[] = [];
  for (const card of cards) {
    if (!exp.models.includes(card.path)) continue;
    exp.workloads.forEach((w, i) => {
      const fidelity = 'promptTokens' in w;
      const lengths = 'contextLengths' in w ? w.contextLengths : fidelity ? w.promptTokens : undefined;
      const longest = Array.isArray(lengths) ? Math.max(0, ...lengths.filter((x): x is number => typeof x === 'number')) : 0;
      const n = (x: number) => x.toLocaleString('en-US');
      if (fidelity) {
        const continuation = typeof w.continuationTokens === 'number' ? w.continuationTokens : 0;
        if (longest + continuation > card.contextLength)
          issues.push(
            `workloads.${i}: ${n(longest)} prompt + ${n(continuation)} continuation tokens run past ${card.name}'s context (${n(card.contextLength)} tokens), beyond what it was trained for. Use prompts up to ${n(Math.max(0, card.contextLength - continuation))}.`,
          );
        return;
      }
      // The answer needs room: the generation cap (NIAH's is 32; the experiment's maxNewTokens overrides it), by the runner's rule.
      const room = promptRoom(card.contextLength, exp.generation?.maxNewTokens ?? 32);
      if (longest > room)
        issues.push(
          `workloads.${i}: ${n(longest)}-token prompts leave no room for the answer in ${card.name}'s context (${n(card.contextLength)} tokens): their middles would be cut to ${n(Math.max(0, room))} tokens, so they say nothing about that length. Use lengths up to ${n(Math.max(0, room))}.`,
        );
    });
  }
  return issues;
}

// -- The slice ------------------------------------------------------------------

export interface BuilderSlice {
  readonly builder: BuilderForm;
  readonly methodInfo: readonly MethodInfo[];
  readonly methodsLoaded: boolean;
  readonly builderPreset: string | null;
  loadMethods(): Promise<void>;
  updateBuilder(patch: Partial<BuilderForm>): void;
  toggleBuilderItem(field: 'modelIds' | 'scorers' | 'allocators', id: string): void;
  setParamPreset(methodId: string, presetName: string): void;
  applyBuilderPreset(presetId: string): void;
  addWorkload(kind: WorkloadKind): void;
  /** New values for some of a workload's fields (its kind stays). */
  updateWorkload(index: number, patch: WorkloadFormValues): void;
  removeWorkload(index: number): void;
  /** Adds a labelled method entry (a custom allocation from the Layer profile); a label already taken gets a number ("custom-2"). */
  addCustomMethod(entry: CustomMethodEntry): void;
  removeCustomMethod(index: number): void;
  /** Validates, starts the run and opens the Runs screen; null when invalid or refused. */
  submitBuilder(): Promise<RunSummary | null>;
}

export const createBuilderSlice: SliceCreator<BuilderSlice> = (set, get, api) => ({
  builder: INITIAL_BUILDER_FORM,
  methodInfo: [],
  methodsLoaded: false,
  builderPreset: 'quick',
  loadMethods: async () => {
    try {
      set({ methodInfo: await api.describeMethods({}), methodsLoaded: true });
    } catch (e) {
      set({ methodsLoaded: true });
      get().reportError(e, 'reading the method registry');
    }
  },
  updateBuilder: (patch) => set((s) => ({ builder: { ...s.builder, ...patch }, builderPreset: null })),
  toggleBuilderItem: (field, id) =>
    set((s) => {
      const cur = s.builder[field];
      return { builder: { ...s.builder, [field]: cur.includes(id) ? cur.filter((x) => x !== id) : [...cur, id] }, builderPreset: null };
    }),
  setParamPreset: (methodId, presetName) =>
    set((s) => ({ builder: { ...s.builder, paramPresets: { ...s.builder.paramPresets, [methodId]: presetName } }, builderPreset: null })),
  applyBuilderPreset: (presetId) => {
    const p = BUILDER_PRESETS.find((x) => x.id === presetId);
    if (!p) return;
    set((s) => ({ builder: { ...s.builder, ...p.form, paramPresets: {} }, builderPreset: p.id }));
  },
  addWorkload: (kind) => set((s) => ({ builder: { ...s.builder, workloads: [...s.builder.workloads, DEFAULT_WORKLOADS[kind]] }, builderPreset: null })),
  updateWorkload: (index, patch) =>
    set((s) => ({
      builder: { ...s.builder, workloads: s.builder.workloads.map((w, i) => (i === index ? { ...w, ...patch, kind: w.kind } : w)) },
      builderPreset: null,
    })),
  removeWorkload: (index) => set((s) => ({ builder: { ...s.builder, workloads: s.builder.workloads.filter((_, i) => i !== index) }, builderPreset: null })),
  addCustomMethod: (entry) =>
    set((s) => {
      const taken = new Set(s.builder.customMethods.map((m) => m.label));
      let label = entry.label;
      for (let n = 2; taken.has(label); n++) label = `${entry.label}-${n}`;
      return { builder: { ...s.builder, customMethods: [...s.builder.customMethods, { ...entry, label }] }, builderPreset: null };
    }),
  removeCustomMethod: (index) =>
    set((s) => ({ builder: { ...s.builder, customMethods: s.builder.customMethods.filter((_, i) => i !== index) }, builderPreset: null })),
  submitBuilder: async () => {
    const s = get();
    const exp = builderExperiment(s.builder, s.models, s.methodInfo);
    const issues = validateExperiment(exp);
    if (issues.length) {
      s.notify('error', `The experiment has ${issues.length} problem${issues.length === 1 ? '' : 's'}: ${issues[0] ?? ''}`);
      return null;
    }
    const run = await s.startRun(exp, exp.name);
    if (run) get().navigate('runs');
    return run;
  },
});
