/**
 * `npm run demo:engine -- --model <gguf | HF folder | llama2.c .bin> [--method full|<scorer>/<allocator>[+adakv]]
 *    [--budget 20%|<tokens per layer>] [--prompt "…" | --prompt-file <path>] [--max-tokens N]`
 *
 * Generates text (greedy unless --temperature is given), then prints the
 * per-layer budgets and the KV bytes actually held against the full cache.
 * With no prompt it starts from BOS, as llama2.c does. Flags are stable:
 * later tooling relies on them.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { BudgetSpec, ExecutionProviderChoice } from '@kvlab/core';
import { EXECUTION_PROVIDER_CHOICES, formatMethodSpec, isExecutionProviderChoice, parseBudget, parseMethodSpec } from '@kvlab/core';
import { openModel } from '../engine/engine.ts';
import type { GenerateResult, Method } from '../engine/generate.ts';
import { generate } from '../engine/generate.ts';
import type { KvType } from '../engine/graph/decoder.ts';
import type { InferenceEngine, OpenedModel } from '../engine/inference-engine.ts';
import { FLOAT_WEIGHT_FORMS, type FloatWeightForm, type Tokenizer } from '../engine/model.ts';
import { describeAdapter } from '../engine/providers.ts';
import { availableMemory } from '../engine/load.ts';
import { checkPromptKv, compressedShare, kvRoomOf } from '../experiments/memory.ts';

const USAGE = `usage: npm run demo:engine -- --model <file|folder> [--method full|<scorer>/<allocator>[+adakv]] [--budget 20%|<tokens/layer>]
       [--prompt "…" | --prompt-file <path>] [--max-tokens N] [--temperature T --seed S] [--threads N] [--ep ${EXECUTION_PROVIDER_CHOICES.join('|')}]
       [--scorer-params JSON] [--allocator-params JSON] [--headwise-params JSON] [--decode-eviction]
       [--float-weights auto|f32|q8|q4] [--exact-matmul] [--kv-type f32|f16] [--ort-profile <path prefix>]`;

function fail(message: string): never {
  console.error(`demo:engine: ${message}`);
  process.exit(2);
}

function json(flag: string, text: string | undefined): unknown {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return fail(`--${flag} is not valid JSON: ${text}`);
  }
}

const FLAGS = {
  model: { type: 'string' },
  method: { type: 'string', default: 'full' },
  budget: { type: 'string', default: '20%' },
  prompt: { type: 'string' },
  'prompt-file': { type: 'string' },
  'max-tokens': { type: 'string', default: '64' },
  temperature: { type: 'string', default: '0' },
  seed: { type: 'string', default: '0' },
  threads: { type: 'string' },
  ep: { type: 'string', default: 'cpu' },
  'scorer-params': { type: 'string' },
  'allocator-params': { type: 'string' },
  'headwise-params': { type: 'string' },
  'decode-eviction': { type: 'boolean', default: false },
  'float-weights': { type: 'string', default: 'auto' },
  'exact-matmul': { type: 'boolean', default: false },
  'kv-type': { type: 'string', default: 'f32' },
  'ort-profile': { type: 'string' },
  help: { type: 'boolean', default: false },
} as const;

type Flags = ReturnType<typeof parseArgs<{ options: typeof FLAGS; strict: true }>>['values'];

/** What the flags ask for, checked: a bad flag ends the process with a one-line reason before any model is read. */
interface Request {
  readonly modelPath: string;
  readonly method: Method;
  readonly budget: BudgetSpec;
  readonly maxTokens: number;
  readonly ep: ExecutionProviderChoice;
  readonly floatWeights: FloatWeightForm | 'auto';
  readonly kvType: KvType;
}

function request(values: Flags): Request {
  if (!values.model) fail(`--model is required\n${USAGE}`);
  if (values.prompt !== undefined && values['prompt-file'] !== undefined) fail('give --prompt or --prompt-file, not both');
  const maxTokens = Number(values['max-tokens']);
  if (!Number.isInteger(maxTokens) || maxTokens < 1) fail(`--max-tokens must be a positive integer, got ${values['max-tokens']}`);
  const method = parseMethodSpec(values.method, {
    scorer: json('scorer-params', values['scorer-params']),
    allocator: json('allocator-params', values['allocator-params']),
    headwise: json('headwise-params', values['headwise-params']),
  });
  const ep = values.ep;
  if (!isExecutionProviderChoice(ep)) fail(`--ep must be one of ${EXECUTION_PROVIDER_CHOICES.join(', ')}, got ${ep}`);
  const budget = parseBudget(values.budget);
  const floatWeights = values['float-weights'];
  if (floatWeights !== 'auto' && !(FLOAT_WEIGHT_FORMS as readonly string[]).includes(floatWeights))
    fail(`--float-weights must be auto, ${FLOAT_WEIGHT_FORMS.join(', ')}; got ${floatWeights}`);
  const kv = values['kv-type'];
  if (kv !== 'f32' && kv !== 'f16') fail(`--kv-type must be f32 or f16; got ${kv}`);
  return { modelPath: values.model, method, budget, maxTokens, ep, floatWeights: floatWeights as FloatWeightForm | 'auto', kvType: kv };
}

/** The prompt's text (empty: start from BOS, as llama2.c does) and its token ids. */
function prompt(values: Flags, tok: Tokenizer): { text: string; ids: number[] } {
  const text = values['prompt-file'] !== undefined ? readFileSync(values['prompt-file'], 'utf8') : (values.prompt ?? '');
  const ids = text.length > 0 ? tok.encode(text) : tok.bosId !== undefined ? [tok.bosId] : fail('the model has no BOS token; give a --prompt');
  return { text, ids };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: FLAGS, strict: true });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const req = request(values);
  const model = await openModel(req.modelPath, { floatWeights: req.floatWeights });
  const { text, ids } = prompt(values, model.tokenizer);
  const engine = await model.startEngine({
    executionProvider: req.ep,
    ...(values.threads ? { threads: Number(values.threads) } : {}),
    ...(values['exact-matmul'] ? { exactMatmul: true } : {}),
    kvType: req.kvType,
    ...(values['ort-profile'] ? { ortProfilePrefix: values['ort-profile'] } : {}),
  });
  // The prompt and every token asked for, before the prefill: a cache that cannot fit would otherwise get the process killed.
  const remedy = { halve: 'pass --kv-type f16', shorten: 'use a shorter prompt or fewer --max-tokens' };
  const beside = compressedShare(engine.shape, [{ method: req.method, budget: req.budget }], ids.length);
  checkPromptKv(kvRoomOf(req.modelPath, engine, remedy, availableMemory()), ids.length, req.maxTokens, beside);
  const r = await generate(engine, ids, {
    method: req.method,
    budget: req.budget,
    maxTokens: req.maxTokens,
    sampling: { temperature: Number(values.temperature), seed: Number(values.seed) },
    evictDuringDecode: values['decode-eviction'],
  });
  process.stdout.write(`${text}${model.tokenizer.decode(r.tokens)}\n`);
  printEngine(model, engine, values['exact-matmul']);
  console.log(`method ${formatMethodSpec(req.method)}, budget ${values.budget}, prompt ${ids.length} tokens, generated ${r.tokens.length}`);
  printBudgets(r, req.method, model.config.numLayers);
  printMemoryAndSpeed(r, ids.length);
  await engine.dispose();
  const profile = values['ort-profile'] && newestProfile(values['ort-profile']);
  if (profile) console.log(`onnxruntime profile (every run's kernels, in execution order): ${profile}`);
}

/** onnxruntime names its profile `<prefix>_<date>_<time>.json`, written when the session is released. */
function newestProfile(prefix: string): string | undefined {
  const dir = dirname(resolve(prefix));
  const stem = basename(prefix);
  const files = readdirSync(dir).filter((f) => f.startsWith(`${stem}_`) && f.endsWith('.json'));
  return files.map((f) => join(dir, f)).sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0];
}

/** The summary's head: the model, and what runs it — provider (and adapter) and why, weights, cache type. */
function printEngine(model: OpenedModel, engine: InferenceEngine, exactMatmul: boolean): void {
  const c = model.config;
  console.log(
    `\n--- ${c.name} (${c.architecture}, ${c.numLayers} layers, ${c.numHeads}/${c.numKvHeads} heads, d=${c.headDim}) on ${engine.info.executionProvider}`,
  );
  // Which provider (and adapter) ran, and why, in the summary after the text (stderr is for warnings).
  console.log(`provider: ${engine.info.executionProvider} — ${engine.info.providerReason}`);
  if (engine.info.adapter) console.log(`adapter: ${describeAdapter(engine.info.adapter)}`);
  console.log(`weights: ${model.weights}${model.blockWeights && !exactMatmul ? ' (weight blocks × int8 activations)' : ''}`);
  console.log(`kv cache: ${engine.kvType} (${engine.kvType === 'f16' ? 2 : 4} bytes per element)`);
}

/** The budget kept: notes on raised budgets, then each layer's budget and what each KV head holds. */
function printBudgets(r: GenerateResult, method: Method, numLayers: number): void {
  // A budget too small for this prompt was raised to the smallest that works; the numbers below are the raised budget's.
  for (const notice of r.notices) console.log(`note: ${notice}`);
  if (r.plan && r.budget) {
    console.log(`nominal: ${r.budget.totalTokens} tokens over ${numLayers} layers (${(r.budget.keepRatio * 100).toFixed(1)} % of the prompt cache)`);
    console.log('layer  budget  held per KV head');
    r.plan.layerBudgets.forEach((b, l) =>
      console.log(`${String(l).padStart(5)}  ${String(b).padStart(6)}  ${[...(r.heldAfterCompression.perHead[l] ?? [])].join(' ')}`),
    );
  } else {
    console.log(r.budget || method !== 'full' ? 'budget covers the whole prompt: nothing compressed' : 'full cache (no compression)');
  }
}

/** KV bytes held after prefill and at the end against the full cache, and the prefill, compress and decode speeds. */
function printMemoryAndSpeed(r: GenerateResult, promptTokens: number): void {
  const mib = (b: number) => `${(b / 2 ** 20).toFixed(3)} MiB`;
  const a = r.heldAfterCompression;
  const e = r.heldAtEnd;
  console.log(`KV held after prefill: ${mib(a.bytes)} of ${mib(a.fullBytes)} full (${((100 * a.bytes) / a.fullBytes).toFixed(1)} %)`);
  console.log(
    `KV held at the end:    ${mib(e.bytes)} of ${mib(e.fullBytes)} full (${((100 * e.bytes) / e.fullBytes).toFixed(1)} %)${r.decodeEvictions ? `, ${r.decodeEvictions} evicted while decoding` : ''}`,
  );
  if (e.slotBytes > e.bytes) console.log(`graph buffers incl. padding of ragged heads: ${mib(e.slotBytes)}`);
  const tps = r.timings.decodeTokens / (r.timings.decodeMs / 1000);
  console.log(
    `prefill ${r.timings.prefillMs.toFixed(1)} ms (${((promptTokens / r.timings.prefillMs) * 1000).toFixed(0)} tok/s), compress ${r.timings.compressMs.toFixed(1)} ms, decode ${Number.isFinite(tps) ? tps.toFixed(1) : '–'} tok/s`,
  );
}

main().catch((e: unknown) => {
  const err = e as Error & { code?: string };
  console.error(`demo:engine: ${err.message}`);
  process.exit(1);
});
