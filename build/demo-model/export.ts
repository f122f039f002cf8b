/**
 * Exports the trained demo model (train.py's <work>/hf: config.json + model.safetensors) to the GGUF
 * the app ships: llama.cpp tensor names and Q/K layout (writeGgufModel), the SentencePiece vocabulary
 * from train_tokenizer.py in GGUF "llama" tokenizer metadata, and descriptive metadata (licence,
 * data provenance, training run). Weights stay F32: the file is ~7 MB and the engine computes in F32.
 *
 *   tsx build/demo-model/export.ts [--out build/demo-model/kvlab-demo.gguf]
 *
 * Also writes <out>.sha256, which the CI test (test/build/demo-model.test.ts) checks the file against.
 */
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadHfWeights, readHfModelHeader } from '../../electron/engine/formats/hf.ts';
import { writeGgufModel } from '../../electron/engine/formats/gguf-model-writer.ts';
import type { GgufMetadataEntry } from '../../electron/engine/formats/gguf-writer.ts';

const here = import.meta.dirname;
const work = resolve(process.env['KVLAB_DEMO_WORK'] ?? join(here, 'work'));
const { values: args } = parseArgs({ options: { out: { type: 'string', default: join(here, 'kvlab-demo.gguf') } } });
const out = resolve(args.out);

const header = readHfModelHeader(join(work, 'hf'));
const weights = loadHfWeights(header);
const hfConfig = JSON.parse(readFileSync(join(work, 'hf', 'config.json'), 'utf8')) as {
  kvlab_training?: { steps: number; tokens_seen: number; wall_s: number; seed: number; device: string; threads: number };
};
const run = hfConfig.kvlab_training;
const vocab = JSON.parse(readFileSync(join(work, 'vocab.json'), 'utf8')) as { tokens: string[]; scores: number[]; types: number[] };
const config = { ...header.config, name: 'KV Lab demo retriever', contextLength: 2048 };
const params = [...weights.values()].reduce((n, w) => n + w.data.length, 0);

const metadata: GgufMetadataEntry[] = [
  ['general.author', 'string', 'KV Lab'],
  ['general.license', 'string', 'MIT'],
  ['general.size_label', 'string', `${(params / 1e6).toFixed(1)}M`],
  ['general.source.url', 'string', 'build/demo-model (train_tokenizer.py, make-data.ts, train.py, export.ts)'],
  [
    'kvlab.training.data',
    'string',
    'Public-domain prose (Project Gutenberg: Austen x5, Shaw, The Jargon File, KJV, Melville; Persuasion held out) and KV Lab synthetic ' +
      'long-context tasks (NIAH single/multikey/multivalue/passkey with the train templates, RULER-style vt/kv, repeated random sequences) ' +
      'at 128-2048 tokens. Held-out needle templates and the held-out text were never trained on.',
  ],
  ['kvlab.training.context_length', 'uint32', 2048],
  ['kvlab.training.steps', 'uint32', run?.steps ?? 0],
  ['kvlab.training.tokens', 'uint64', BigInt(run?.tokens_seen ?? 0)],
  ['kvlab.training.wall_seconds', 'uint32', run?.wall_s ?? 0],
  ['kvlab.training.seed', 'uint32', run?.seed ?? 0],
  ['kvlab.training.hardware', 'string', `${run?.device ?? 'cpu'}, ${run?.threads ?? 0} threads`],
];
writeGgufModel(
  out,
  { config, weights },
  {
    type: 'F32',
    vocab,
    metadata,
    description:
      'A small Llama-architecture model (RMSNorm, SwiGLU, RoPE, GQA 2:1, 6 layers) trained by KV Lab on 2 CPU cores to retrieve facts from ' +
      'up to 2,048 tokens back, so that needle-in-a-haystack under KV-cache compression measures the compression, not noise. ' +
      'Not a general-purpose language model. See docs/demo-model.md.',
  },
);
const sha = createHash('sha256').update(readFileSync(out)).digest('hex');
writeFileSync(`${out}.sha256`, `${sha}  ${basename(out)}\n`);
console.error(`wrote ${out} (${params} parameters, sha256 ${sha})`);
