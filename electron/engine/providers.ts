/**
 * Which execution provider an engine session runs on, and why.
 *
 * `decideProvider` is the decision table, pure so its tests need no GPU:
 * - a provider asked for by name is used (a WebGPU adapter that turns out to
 *   be a software rasteriser is used too, but said to be one);
 * - `auto` takes an installed CUDA provider, else a hardware WebGPU adapter,
 *   else the CPU — never a software adapter (SwiftShader computes right but
 *   slower than the CPU provider), nor one whose kind is unknown.
 *
 * `openSession` gathers the facts (is the CUDA provider installed, what does
 * the WebGPU probe find), opens the onnxruntime session and, when the chosen
 * provider fails to start, moves on: `auto` to its next choice, a named
 * provider to the CPU with `fallbackReason` (never silently).
 */
import type { ExecutionProvider, ExecutionProviderChoice, GpuAdapterInfo } from '@kvlab/core';
import ort from 'onnxruntime-node';
import { executionProviders } from '../host/execution-providers.ts';
import type { WebGpuProbe } from './webgpu-adapter.ts';
import { probeWebGpu } from './webgpu-adapter.ts';

export interface ProviderFacts {
  /** Whether the CUDA provider library is installed (`npm run setup:gpu`), and if not why. */
  readonly cuda: { readonly installed: boolean; readonly reason?: string };
  /** What the WebGPU probe found; undefined when it was not needed (a non-WebGPU provider asked for by name). */
  readonly webgpu?: WebGpuProbe;
}

export interface ProviderDecision {
  readonly provider: ExecutionProvider;
  /** One line: what was picked and why. */
  readonly reason: string;
  readonly adapter?: GpuAdapterInfo;
}

export function describeAdapter(a: GpuAdapterInfo): string {
  const kind = a.software === true ? 'a software adapter' : a.software === false ? 'a hardware adapter' : 'adapter kind unknown';
  return `${a.name ?? 'unnamed adapter'} (${a.backend}, ${kind})`;
}

/** The decision table (module comment). */
export function decideProvider(requested: ExecutionProviderChoice, facts: ProviderFacts): ProviderDecision {
  const wg = facts.webgpu;
  if (requested !== 'auto') {
    if (requested !== 'webgpu') return { provider: requested, reason: `${requested}: asked for by name` };
    if (wg?.ok !== true) return { provider: 'webgpu', reason: 'webgpu: asked for by name' };
    const software = wg.adapter.software === true ? '; correct results, no GPU speed' : '';
    return { provider: 'webgpu', reason: `webgpu: asked for by name, on ${describeAdapter(wg.adapter)}${software}`, adapter: wg.adapter };
  }
  if (facts.cuda.installed) return { provider: 'cuda', reason: 'auto: the CUDA provider is installed' };
  const noCuda = `no CUDA (${facts.cuda.reason ?? 'not installed'})`;
  if (!wg) return { provider: 'cpu', reason: `auto: ${noCuda}; WebGPU not probed; CPU` };
  if (!wg.ok) return { provider: 'cpu', reason: `auto: ${noCuda}; no WebGPU adapter (${wg.reason}); CPU` };
  if (wg.adapter.software === false) return { provider: 'webgpu', reason: `auto: ${noCuda}; WebGPU on ${describeAdapter(wg.adapter)}`, adapter: wg.adapter };
  const why =
    wg.adapter.software === true
      ? `the only WebGPU adapter is ${describeAdapter(wg.adapter)}, slower than the CPU provider (ask for webgpu by name to use it)`
      : `the WebGPU adapter's kind is unknown (${describeAdapter(wg.adapter)}), so it may be a software one (ask for webgpu by name to use it)`;
  return { provider: 'cpu', reason: `auto: ${noCuda}; ${why}; CPU` };
}

/** The facts `decideProvider` needs for `requested`: the probe runs only when WebGPU is a candidate. */
export async function gatherProviderFacts(requested: ExecutionProviderChoice): Promise<ProviderFacts> {
  const status = executionProviders().find((p) => p.id === 'cuda');
  const cuda = { installed: status?.available === true, ...(status?.reason ? { reason: status.reason } : {}) };
  return requested === 'auto' || requested === 'webgpu' ? { cuda, webgpu: await probeWebGpu() } : { cuda };
}

export interface ProviderInfo {
  /** What was asked for (a provider or `auto`). */
  readonly requestedProvider: ExecutionProviderChoice;
  /** What the session runs on. */
  readonly executionProvider: ExecutionProvider;
  /** One line: why this provider (what `auto` picked, or that it was asked for by name). */
  readonly providerReason: string;
  /** Set when the chosen provider failed to start and the CPU took over. */
  readonly fallbackReason?: string;
  /** The WebGPU adapter, when the session runs on WebGPU. */
  readonly adapter?: GpuAdapterInfo;
}

const firstLine = (e: unknown): string => (e instanceof Error ? e.message : String(e)).split('\n')[0] ?? '';

/** Opens `graphPath` on the provider `requested` resolves to (module comment). */
export async function openSession(
  graphPath: string,
  requested: ExecutionProviderChoice,
  base: ort.InferenceSession.SessionOptions,
): Promise<{ session: ort.InferenceSession; info: ProviderInfo }> {
  let facts = await gatherProviderFacts(requested);
  // At most three tries: auto's CUDA, then its WebGPU, then the CPU.
  for (let attempt = 0; ; attempt++) {
    const d = decideProvider(requested, facts);
    const info = { requestedProvider: requested, executionProvider: d.provider, providerReason: d.reason, ...(d.adapter ? { adapter: d.adapter } : {}) };
    try {
      const executionProviders = d.provider === 'cpu' ? ['cpu'] : [d.provider, 'cpu'];
      return { session: await ort.InferenceSession.create(graphPath, { ...base, executionProviders }), info };
    } catch (e) {
      if (d.provider === 'cpu') throw e;
      const failed = `the ${d.provider} session failed to start (${firstLine(e)})`;
      if (requested === 'auto' && attempt < 2) {
        // Drop the failed candidate and decide again.
        facts = d.provider === 'cuda' ? { ...facts, cuda: { installed: false, reason: failed } } : { ...facts, webgpu: { ok: false, reason: failed } };
        continue;
      }
      const fallbackReason = `${d.provider} execution provider unavailable: ${failed}; using CPU`;
      const session = await ort.InferenceSession.create(graphPath, { ...base, executionProviders: ['cpu'] });
      return { session, info: { requestedProvider: requested, executionProvider: 'cpu', providerReason: fallbackReason, fallbackReason } };
    }
  }
}
