/**
 * @kvlab/core — the algorithm core shared by the main process and the renderer.
 * Pure TypeScript: no node:*, electron or DOM (checked by core/tsconfig.json's
 * libs and by eslint's import rules).
 */
export * from './errors.ts';
export * from './issues.ts';
export * from './path-text.ts';
export * from './execution-providers.ts';
export * from './tensor.ts';
export * from './budget.ts';
export * from './rng.ts';
export * from './observation.ts';
export * from './method.ts';
export * from './params.ts';
export * from './select.ts';
export * from './allocators/conserve.ts';
export * from './analysis/attention.ts';
export * from './kv-layout.ts';
export * from './analysis/lmba.ts';
export * from './scorers/pool.ts';
export * from './scorers/snapkv.ts';
export * from './allocators/uniform.ts';
export * from './allocators/zigzagkv.ts';
export * from './scorers/h2o.ts';
export * from './scorers/streamingllm.ts';
export * from './scorers/tova.ts';
export * from './scorers/knorm.ts';
export * from './scorers/random.ts';
export * from './analysis/lmbo.ts';
export * from './registry.ts';
export * from './pipeline.ts';
export * from './allocators/pyramidkv.ts';
export * from './allocators/cake.ts';
export * from './analysis/layer-stats.ts';
export * from './headwise/adakv.ts';
export * from './method-spec.ts';
export * from './experiment.ts';
export * from './workloads/types.ts';
export * from './workloads/errors.ts';
export * from './workloads/niah.ts';
export * from './workloads/example.ts';
export * from './workloads/ruler.ts';
export * from './workloads/longbench.ts';
export * from './workloads/fidelity.ts';
export * from './workloads/generate.ts';
export * from './metrics/text.ts';
export * from './metrics/fidelity.ts';
export * from './api/rows.ts';
export * from './api/contract.ts';
export * from './api/bridge.ts';
export * from './api/playground-example.ts';
export * from './results/aggregate.ts';
export * from './results/compare.ts';
export * from './results/colors.ts';
export * from './results/ticks.ts';
export * from './eta.ts';
export * from './prompt-room.ts';
