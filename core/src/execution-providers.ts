/**
 * The one list of onnxruntime execution providers KV Lab knows, and the
 * choices a user may ask for (a provider by name, or `auto`). Everything else
 * — the engine, the CLI flags, the experiment schema, the settings contract,
 * the GPU panel — derives from these lists, so a new provider is added here
 * once.
 */

/** Providers the engine can run a session on (onnxruntime's names). */
export const EXECUTION_PROVIDERS = ['cpu', 'cuda', 'dml', 'coreml', 'webgpu'] as const;
export type ExecutionProvider = (typeof EXECUTION_PROVIDERS)[number];

/**
 * What a user may ask for: a provider by name, or `auto` — a working CUDA
 * provider, else a hardware WebGPU adapter, else the CPU; never a software
 * adapter (electron/engine/providers.ts).
 */
export const EXECUTION_PROVIDER_CHOICES = ['auto', ...EXECUTION_PROVIDERS] as const;
export type ExecutionProviderChoice = (typeof EXECUTION_PROVIDER_CHOICES)[number];

export const isExecutionProviderChoice = (s: string): s is ExecutionProviderChoice => (EXECUTION_PROVIDER_CHOICES as readonly string[]).includes(s);

/**
 * The GPU adapter a WebGPU session runs on, as far as it can be learnt:
 * onnxruntime-node reports none of it (no API, no log line), so the engine
 * reads it from a probe (electron/engine/webgpu-adapter.ts).
 */
export interface GpuAdapterInfo {
  /** The device's name (e.g. "NVIDIA GeForce RTX 4090", "SwiftShader Device (Subzero)"); null where it cannot be learnt. */
  readonly name: string | null;
  /** Dawn's backend: Vulkan on Linux, D3D12 on Windows, Metal on macOS. */
  readonly backend: 'vulkan' | 'd3d12' | 'metal';
  /** A CPU rasteriser posing as a GPU (SwiftShader, llvmpipe, WARP): correct results, no speed. null: unknown. */
  readonly software: boolean | null;
  /** How the name was learnt, for provenance readers. */
  readonly source: string;
}
