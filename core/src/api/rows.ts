/**
 * The shape of a result row in results.jsonl (one finished cell), shared by
 * the runner, the reports, the exports and the UI (it lives in core so the
 * API contract can name it). Plain JSON.
 *
 * A cell is (model, sample, method, budget). `kind: 'profile'` rows carry a
 * layer profile (LMBA/LMBO per layer and head) instead of a score.
 */
import type { GpuAdapterInfo } from '../execution-providers.ts';

/** Static facts about the process that produced a row (electron/experiments/provenance.ts fills it). */
export interface Provenance {
  readonly appVersion: string;
  readonly commit: string;
  readonly node: string;
  readonly onnxruntime: string;
  readonly machine: {
    readonly hostname: string;
    readonly platform: string;
    readonly release: string;
    readonly arch: string;
    readonly cpu: string;
    readonly cpus: number;
    readonly memoryBytes: number;
  };
}

export type SanityFlag =
  /** The full-KV baseline scored far below what the workload expects: the harness or the model is wrong, not the compression. */
  | 'low-baseline'
  /** A compressed method held as many KV bytes as the full cache although its budget was below the prompt. */
  | 'not-compressed'
  /** The budget covers the whole prompt, so nothing was compressed (informational). */
  | 'budget-covers-prompt'
  /** The budget was below what the method can keep of this prompt and was raised to the smallest that works (the kv numbers are the raised budget's). */
  | 'budget-raised'
  /** Re-running a sample's full-KV cell at the end gave a different output: state leaks between samples. */
  | 'state-leak'
  /** The prompt was longer than the model's context and its middle was cut to fit: the cell did not test its labelled length. */
  | 'truncated-to-context'
  /** Prompt plus output ran past the context length the model file declares (fidelity prompts are never cut). */
  | 'beyond-context';

export interface FidelityMetrics {
  /** Mean teacher-forced NLL (nats/token) of the continuation. */
  readonly nll: number;
  readonly ppl: number;
  /** nll − the full cache's nll on the same sample. */
  readonly deltaNll: number;
  /** Mean KL(full ‖ this) over the continuation's positions. */
  readonly kl: number;
  /** Share of positions whose argmax equals the full cache's. */
  readonly top1: number;
  /** Length of the greedy continuation that matches the full cache's greedy continuation. */
  readonly greedyPrefix: number;
}

export interface KvMeasurement {
  /** Tokens per KV head the allocator gave each layer. */
  readonly layerBudgets: number[];
  /** Tokens per KV head actually held after compression: [layer][head]. */
  readonly heldPerHead: number[][];
  /** K+V bytes actually held after compression (live entries). */
  readonly heldBytes: number;
  /** K+V bytes of the buffers fed to the graph (padding of ragged heads included). */
  readonly slotBytes: number;
  /** K+V bytes of the uncompressed prompt cache. */
  readonly fullBytes: number;
  /** Nominal budget in tokens summed over layers, and as a share of the prompt cache. */
  readonly nominalTokens: number;
  readonly nominalRatio: number;
}

export interface ResultRow {
  readonly kind: 'cell';
  readonly cellId: string;
  readonly experimentHash: string;
  readonly experiment: string;
  readonly model: {
    readonly path: string;
    readonly name: string;
    readonly sha256: string;
    readonly layers: number;
    readonly kvHeads: number;
    readonly headDim: number;
    /** Context length the model file declares (reports draw it as the trained-length line). */
    readonly contextLength?: number;
  };
  readonly workload: string;
  readonly sampleId: string;
  /** Sample facts: depth, contextLength, dataset, variant… */
  readonly meta: Readonly<Record<string, string | number | boolean>>;
  readonly promptTokens: number;
  /** Method string ("full", "snapkv/zigzagkv+adakv") and its resolved parameters. */
  readonly method: string;
  readonly methodLabel: string;
  readonly methodParams: unknown;
  /** Budget string as written in the experiment ("20%", "128"); "full" for the full cache. */
  readonly budget: string;
  readonly metric: string;
  /** Score in [0, 1] (task metrics), or top-1 agreement for fidelity samples. */
  readonly score: number;
  readonly prediction: string;
  readonly answers: readonly string[];
  readonly fidelity?: FidelityMetrics;
  readonly kv: KvMeasurement;
  /** Per-layer LMBA the allocator measured (ZigZagKV), for the budget-vs-LMBA overlay. */
  readonly lmba?: number[];
  /** Kept prompt positions per layer and head (for the retention overlay), when the experiment asks for it. */
  readonly kept?: number[][][];
  readonly timings: { readonly prefillMs: number; readonly compressMs: number; readonly decodeMs: number; readonly decodeTokens: number };
  readonly flags: SanityFlag[];
  readonly provenance: Provenance & {
    readonly executionProvider: string;
    /** The WebGPU adapter the row ran on (name, backend, whether it is a software rasteriser); rows on other providers have none. */
    readonly adapter?: GpuAdapterInfo;
    /** Why the engine ran on that provider (what `auto` picked, or why a requested one fell back). */
    readonly executionProviderReason?: string;
    readonly threads: number;
    readonly seed: number;
    readonly date: string;
    /** How the weights were held: stored types and the form of float-stored matrices (rows before this field: float32). */
    readonly weights?: string;
    /** 'exact' when weight blocks multiplied float32 activations (or there were none), 'int8' when activations were quantised per block. */
    readonly matmul?: 'exact' | 'int8';
    /** The KV cache's element type (absent: f32, rows written before the choice existed). */
    readonly kvType?: 'f32' | 'f16';
  };
}

export interface ProfileRow {
  readonly kind: 'profile';
  readonly cellId: string;
  readonly experimentHash: string;
  readonly experiment: string;
  readonly model: ResultRow['model'];
  readonly workload: string;
  readonly sampleId: string;
  readonly promptTokens: number;
  readonly tau: number;
  /** LMBA per layer and per query head: [layer], [layer][head]. */
  readonly lmba: number[];
  readonly lmbaPerHead: number[][];
  /** LMBO per layer (cosine ≥ tauO) and its curve [layer] → {budget, similarity}[]. */
  readonly tauO: number;
  readonly lmbo: number[];
  readonly lmboCurves: { readonly budget: number; readonly similarity: number }[][];
  readonly provenance: ResultRow['provenance'];
}

/** A sanity check run after a model's cells: e.g. the first sample's full-KV cell re-run to detect state leaking between samples. */
export interface CheckRow {
  readonly kind: 'check';
  readonly cellId: string;
  readonly experimentHash: string;
  readonly experiment: string;
  readonly model: ResultRow['model'];
  readonly check: 'state-leak';
  readonly passed: boolean;
  readonly detail: string;
  readonly flags: SanityFlag[];
}

export type AnyRow = ResultRow | ProfileRow | CheckRow;
