/**
 * Experiment definitions: one file describes a comparison — models ×
 * methods × budgets × workloads — validated here and expanded by the runner
 * into cells (experiment-plan.ts; like kvpress `EvaluationConfig` and
 * KVCache-Factory's run arguments). Workloads are checked against the workload
 * registry (workloads/registry.ts).
 *
 * Methods are method strings ("full", "snapkv/zigzagkv+adakv", see
 * method-spec.ts) or objects with parameters and a label; budgets are budget
 * strings ("20%", "128", "cr:0.8", see budget.ts). Every id and parameter is
 * checked against the registry, and every error names its place in the file
 * (e.g. "methods[2].allocator.tau: …").
 */
import { z } from 'zod';
import type { BudgetSpec } from './budget.ts';
import { parseBudget } from './budget.ts';
import type { CompressionConfig } from './pipeline.ts';
import { formatMethodSpec, parseMethodSpec } from './method-spec.ts';
import { LabError } from './errors.ts';
import { describeIssues } from './issues.ts';
import { pathText } from './path-text.ts';
import { validateMethod } from './registry.ts';
import { EXECUTION_PROVIDER_CHOICES } from './execution-providers.ts';
import { workloadDef } from './workloads/registry.ts';

const params = z.record(z.string(), z.unknown());

export const methodEntry = z.union([
  z.string().min(1),
  z.strictObject({
    method: z.string().min(1),
    label: z.string().min(1).optional(),
    scorer: params.optional(),
    allocator: params.optional(),
    headwise: params.optional(),
  }),
]);

export const experimentDef = z
  .strictObject({
    name: z.string().min(1),
    description: z.string().optional(),
    models: z.array(pathText()).min(1).describe('Model paths: GGUF files, Hugging Face folders or llama2.c .bin files (relative to the experiment file).'),
    methods: z.array(methodEntry).min(1),
    budgets: z.array(z.string().min(1)).min(1),
    workloads: z.array(workloadDef).min(1),
    seed: z
      .number()
      .int()
      .min(0)
      .max(2 ** 31 - 1)
      .default(0),
    generation: z
      .strictObject({
        maxNewTokens: z.number().int().min(1).max(65536).optional().describe("Overrides each sample's own generation cap."),
        chatTemplate: z
          .enum(['auto', 'never'])
          .default('auto')
          .describe("'auto': wrap prompts in the model's chat template when it has one (except datasets LongBench runs without)."),
      })
      .default({ chatTemplate: 'auto' }),
    engine: z
      .strictObject({
        threads: z.number().int().min(1).max(256).optional(),
        executionProvider: z
          .enum(EXECUTION_PROVIDER_CHOICES)
          .default('cpu')
          .describe("A provider by name, or 'auto' (CUDA if installed, else a hardware WebGPU adapter, else the CPU). Default 'cpu': reproducible."),
        prefillChunk: z.number().int().min(1).max(8192).optional(),
        floatWeights: z
          .enum(['auto', 'f32', 'q8', 'q4'])
          .optional()
          .describe(
            "How matrices stored as floats (F16/BF16/F32) are held: float32, or requantised at load to 8-bit or 4-bit blocks; 'auto' (the default) takes float32 if it fits in memory, else the first that does. Quantised GGUF weights always stay as stored.",
          ),
        exactMatmul: z
          .boolean()
          .optional()
          .describe('Multiply weight blocks with float32 activations (exact, slower) instead of int8 ones (as llama.cpp does).'),
        kvType: z
          .enum(['f32', 'f16'])
          .optional()
          .describe(
            "The KV cache's element type (default f32). f16 holds and moves half the bytes, as llama.cpp's default cache does; budgets in bytes and the KV-held figures count 2 bytes per element. On the CPU each step casts the past up to float32, so decoding is slower.",
          ),
      })
      .default({ executionProvider: 'cpu' }),
    texts: pathText().optional().describe('Folder the workloads’ text names resolve in (default: ../shared/texts next to the app).'),
    record: z
      .strictObject({ kept: z.boolean().default(false).describe('Store the kept positions per layer and head (retention overlays; large).') })
      .default({ kept: false }),
  })
  .superRefine((def, ctx) => {
    def.methods.forEach((m, i) => {
      const entry = typeof m === 'string' ? { method: m } : m;
      try {
        const parsed = parseMethodSpec(entry.method);
        if (parsed === 'full') return;
        for (const kind of ['scorer', 'allocator', 'headwise'] as const) {
          const choice = parsed[kind];
          const raw = 'scorer' in entry || 'allocator' in entry || 'headwise' in entry ? (entry as Record<string, unknown>)[kind] : undefined;
          if (choice) validateMethod(kind, choice.id, raw ?? {});
          else if (raw !== undefined) ctx.addIssue({ code: 'custom', path: ['methods', i, kind], message: `'${entry.method}' has no ${kind}` });
        }
      } catch (e) {
        ctx.addIssue({ code: 'custom', path: ['methods', i], message: (e as Error).message });
      }
    });
    def.budgets.forEach((b, i) => {
      try {
        parseBudget(b);
      } catch (e) {
        ctx.addIssue({ code: 'custom', path: ['budgets', i], message: (e as Error).message });
      }
    });
    const labels = def.methods.flatMap((m) => {
      try {
        return resolveMethods([m]).map((r) => r.label);
      } catch {
        return []; // already reported above
      }
    });
    const dup = labels.find((l, i) => labels.indexOf(l) !== i);
    if (dup) ctx.addIssue({ code: 'custom', path: ['methods'], message: `two methods share the label '${dup}'; give one a "label"` });
  });

export type ExperimentDef = z.output<typeof experimentDef>;
export type ExperimentInput = z.input<typeof experimentDef>;

export class ExperimentError extends LabError {
  readonly code = 'E_EXPERIMENT' as const;
  readonly apiCode = 'E_INVALID' as const;
  constructor(
    readonly file: string,
    readonly issues: readonly string[],
  ) {
    super(`${file}: ${issues.length === 1 ? issues[0] : `\n  ${issues.join('\n  ')}`}`);
    this.name = 'ExperimentError';
  }
  /** Every problem on its own, for a UI that lists them. */
  override get apiDetails(): { issues: readonly string[] } {
    return { issues: this.issues };
  }
}

/** Parses and validates an experiment (already JSON-decoded); every problem is listed with its path. */
export function parseExperiment(raw: unknown, file = 'experiment'): ExperimentDef {
  const r = experimentDef.safeParse(raw);
  if (r.success) return r.data;
  throw new ExperimentError(file, describeIssues(r.error.issues));
}

export interface ResolvedMethod {
  /** Unique label used in results (the method string, or the user's label). */
  readonly label: string;
  /** Canonical method string. */
  readonly spec: string;
  readonly config: 'full' | CompressionConfig;
}

export function resolveMethods(methods: ExperimentDef['methods']): ResolvedMethod[] {
  return methods.map((m) => {
    const entry = typeof m === 'string' ? { method: m } : m;
    const config = parseMethodSpec(entry.method, {
      ...('scorer' in entry && entry.scorer ? { scorer: entry.scorer } : {}),
      ...('allocator' in entry && entry.allocator ? { allocator: entry.allocator } : {}),
      ...('headwise' in entry && entry.headwise ? { headwise: entry.headwise } : {}),
    });
    const spec = formatMethodSpec(config);
    return { label: ('label' in entry && entry.label) || spec, spec, config };
  });
}

export interface ResolvedBudgetEntry {
  readonly text: string;
  readonly spec: BudgetSpec;
}

export function resolveBudgets(budgets: readonly string[]): ResolvedBudgetEntry[] {
  return budgets.map((text) => ({ text: text.trim(), spec: parseBudget(text) }));
}

/** A stable JSON serialisation (sorted keys) — the basis of the experiment hash. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    return `{${Object.keys(v)
      .sort()
      .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}
