/**
 * Writes the demo model's long-context training and evaluation tasks with KV Lab's own generators
 * (core/src/workloads: NIAH single/multikey/multivalue/passkey with the *train* templates, RULER-style
 * variable tracking and key–value lookup), tokenized by the app's own SentencePiece tokenizer built
 * from the freshly trained vocabulary — so the model is trained on exactly the token streams the lab
 * will feed it.
 *
 *   tsx build/demo-model/make-data.ts [--samples N] [--seed S] [--vary-numbers]
 *
 * Reads <work>/vocab.json (train_tokenizer.py); writes <work>/tasks.bin (int32 token ids, one task
 * after another) and <work>/tasks.json (per task: offset, length, answer start/end, length bucket,
 * kind, split). Split 'eval' holds the held-out templates in the held-out text (never trained on).
 *
 * "Augmented" tasks widen the phrasing the model sees: a train-template needle whose noun phrase
 * ("locker code") is swapped for one of many others, so the model learns to copy what follows the
 * phrase the question repeats rather than memorising five sentences. No held-out noun is used.
 *
 * --vary-numbers writes the same training tasks to <work>/tasks-varied.bin|json instead (no eval
 * split), with every number of 5 or more digits in a needle task's prompt and answer replaced by one
 * of 3 to 9 digits (the same replacement wherever that number stands). The generators' numbers
 * always have 5 digits for a passkey and 7 for a needle, so a model trained on them alone learns the
 * answer's length from the question's wording instead of copying where the number ends: run 9
 * answered the held-out passkey question ("What is the access number?", worded like a 7-digit
 * needle question) with 7 digits. train.py's TASKS_VARIED phases draw from this file.
 */
import { mkdirSync, openSync, readFileSync, writeFileSync, writeSync, closeSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { createRng, generateWorkload, mixSeed } from '@kvlab/core';
import type { Sample, WorkloadDefInput } from '@kvlab/core';
import { createSpmTokenizer } from '../../electron/engine/tokenizers/spm.ts';
import { tokenCounter } from '../../electron/experiments/samples.ts';

const here = import.meta.dirname;
const work = resolve(process.env['KVLAB_DEMO_WORK'] ?? join(here, 'work'));
const shared = resolve(process.env['KVLAB_SHARED'] ?? join(here, '..', '..', '..', 'shared'));
const TRAIN_TEXTS = [
  'austen-emma.txt',
  'austen-mansfieldpark.txt',
  'austen-northangerabbey.txt',
  'austen-prideprejudice.txt',
  'austen-sensesensibility.txt',
  'devil.txt',
  'melville-mobydick.txt',
  'kjv.txt',
];
const HELD_OUT_TEXT = 'austen-persuasion.txt';
export const LENGTHS = [128, 256, 384, 512, 768, 1024, 1536, 2048];

const { values: args } = parseArgs({
  options: { samples: { type: 'string', default: '2400' }, seed: { type: 'string', default: '1' }, 'vary-numbers': { type: 'boolean', default: false } },
});
const perLength = Number(args.samples);
const seed0 = Number(args.seed);
const vary = args['vary-numbers'] === true;
const outName = vary ? 'tasks-varied' : 'tasks';
const NEEDLE_KINDS = new Set(['single', 'single-filler', 'multikey', 'multivalue', 'passkey', 'augmented']);

const vocab = JSON.parse(readFileSync(join(work, 'vocab.json'), 'utf8')) as { tokens: string[]; scores: number[]; types: number[] };
const tok = createSpmTokenizer({ ...vocab, bosId: 1, eosId: 2, unkId: 0, addBos: true, addSpacePrefix: true });
const counter = tokenCounter(tok);
const read = (n: string) => readFileSync(join(shared, 'texts', n), 'utf8');
const trainTexts = TRAIN_TEXTS.map(read);
const heldOutText = [read(HELD_OUT_TEXT)];

// Noun phrases for augmented needles (none of the held-out templates' nouns: badge, voucher, gate, access number).
const NOUNS = [
  'room number',
  'ticket number',
  'serial code',
  'house number',
  'parcel code',
  'door code',
  'order number',
  'seat number',
  'catalogue number',
  'shelf mark',
  'key number',
  'box number',
  'pin',
  'secret number',
  'lucky number',
  'code word number',
  'file number',
  'case number',
  'pass code',
  'token',
  'registration number',
  'reference',
  'check number',
  'coupon code',
];
const INTROS = ['Remember this:', 'Note well:', 'Important:', 'Mark this down:', 'As it happens,', 'By the way,', 'Listen:', ''];

interface Task {
  ids: number[];
  answerStart: number;
  length: number;
  kind: string;
  split: 'train' | 'eval';
}

/** The answer as the model should write it after the prompt's answer prefix. */
function answerText(s: Sample): string {
  const a = s.answers;
  if (s.workload === 'ruler-vt') return ` ${a.join(', ')}.`;
  if (a.length === 1) return ` ${a[0]}.`;
  return ` ${a.slice(0, -1).join(', ')} and ${a[a.length - 1]}.`;
}

/** What a task is filed under: its context length, kind and split. */
type TaskLabel = Pick<Task, 'length' | 'kind' | 'split'>;

/**
 * One task from `s`'s prompt and answer, or from a rewritten prompt (and answer; the sample's own
 * when absent). Undefined when the prompt's tokens are not a prefix of prompt+answer's.
 */
function encodeTask(s: Sample, label: TaskLabel, text: { prompt: string; answer?: string } = { prompt: s.prompt }): Task | undefined {
  const { length, kind, split } = label;
  const { prompt, answer = answerText(s) } = text;
  const p = tok.encode(prompt, { addBos: true });
  const all = tok.encode(prompt + answer, { addBos: true });
  // The prompt's tokens must be a prefix of prompt+answer's (they are, as the answer starts with a space).
  for (let i = 0; i < p.length; i++) if (all[i] !== p[i]) return undefined;
  return { ids: [...all, 2], answerStart: p.length, length, kind, split };
}

/**
 * --vary-numbers: the prompt and answer with every number of 5+ digits replaced, consistently, by a
 * seeded one of 3–9 digits (first digit non-zero; distinct numbers stay distinct).
 */
function withVariedNumbers(prompt: string, answer: string, seed: number): { prompt: string; answer: string } {
  const r = createRng(mixSeed(seed, 0x76));
  const map = new Map<string, string>();
  const used = new Set<string>();
  const swap = (n: string): string => {
    let m = map.get(n);
    while (m === undefined || used.has(m)) {
      const k = 3 + r.int(7);
      m = String(1 + r.int(9)) + Array.from({ length: k - 1 }, () => String(r.int(10))).join('');
    }
    map.set(n, m);
    used.add(m);
    return m;
  };
  const re = /(?<!\d)\d{5,}(?!\d)/g;
  const p = prompt.replace(re, swap);
  return { prompt: p, answer: answer.replace(re, (n) => map.get(n) ?? swap(n)) };
}

function generate(def: WorkloadDefInput, seed: number, texts?: readonly string[]): Sample[] {
  try {
    return generateWorkload(def, { seed, counter, ...(texts ? { texts } : {}) });
  } catch (e) {
    if (e instanceof Error && /below the/.test(e.message)) return []; // too short for this task at this length
    throw e;
  }
}

const tasks: Task[] = [];
const push = (t: Task | undefined) => t && tasks.push(t);
const started = Date.now();

for (const L of LENGTHS) {
  const n = Math.max(8, Math.round(perLength * (L <= 512 ? 1 : 512 / L) ** 0.5));
  const per = Math.ceil(n / 5); // five depths per generated (length, sample) cell
  const rng = createRng(mixSeed(seed0, L));
  const depths = () => [0, 1, 2, 3, 4].map((i) => Math.min(100, Math.round(i * 25 + rng.next() * 10 - 5 + (i === 0 ? 5 : 0))));
  const textsHay = { kind: 'texts' as const, names: TRAIN_TEXTS };
  const mix: [string, number, (seed: number) => Sample[]][] = [
    [
      'single',
      0.25,
      (s) => generate({ kind: 'niah', variant: 'single', contextLengths: [L], depths: depths(), samplesPerCell: 1, haystack: textsHay }, s, trainTexts),
    ],
    ['single-filler', 0.08, (s) => generate({ kind: 'niah', variant: 'single', contextLengths: [L], depths: depths() }, s)],
    [
      'multikey',
      0.15,
      (s) =>
        generate({ kind: 'niah', variant: 'multikey', contextLengths: [L], depths: depths(), needles: L < 256 ? 2 : 4, haystack: textsHay }, s, trainTexts),
    ],
    [
      'multivalue',
      0.08,
      (s) => generate({ kind: 'niah', variant: 'multivalue', contextLengths: [L], depths: depths(), needles: 2 + (s % 3), haystack: textsHay }, s, trainTexts),
    ],
    ['passkey', 0.14, (s) => generate({ kind: 'niah', variant: 'passkey', contextLengths: [L], depths: depths() }, s)],
    ['augmented', 0.2, (s) => generate({ kind: 'niah', variant: 'single', contextLengths: [L], depths: depths(), haystack: textsHay }, s, trainTexts)],
    ['vt', 0.05, (s) => generate({ kind: 'ruler', task: 'vt', contextLengths: [L], samples: 1 }, s)],
    ['kv', 0.05, (s) => generate({ kind: 'ruler', task: 'kv', contextLengths: [L], samples: 1 }, s)],
  ];
  for (const [kind, share, make] of mix) {
    const cells = Math.max(1, Math.round((per * share * 5) / (kind === 'vt' || kind === 'kv' ? 1 : 5)));
    for (let c = 0; c < cells; c++) {
      const s = mixSeed(seed0, L, kind.length * 1000 + kind.charCodeAt(0), c);
      for (const sample of make(s)) {
        // Encodes a (possibly rewritten) prompt, with its numbers varied under --vary-numbers.
        const emit = (prompt: string) => {
          if (!vary || !NEEDLE_KINDS.has(kind)) return push(encodeTask(sample, { length: L, kind, split: 'train' }, { prompt }));
          const v = withVariedNumbers(prompt, answerText(sample), mixSeed(s, tasks.length));
          return push(encodeTask(sample, { length: L, kind, split: 'train' }, v));
        };
        if (kind !== 'augmented') {
          emit(sample.prompt);
          continue;
        }
        // Swap the template's noun phrase and intro for a random one (consistently in needle, question and answer prefix).
        const r = createRng(mixSeed(s, 7));
        const tpl = String(sample.meta['template']);
        const phrase = ['locker code', 'archive is filed under number', 'berth number', 'combination', 'seeds came in packet'][Number(tpl.split('-')[1])] ?? '';
        const noun = NOUNS[r.int(NOUNS.length)] ?? 'number';
        let prompt = sample.prompt;
        if (phrase === 'locker code' || phrase === 'combination' || phrase === 'berth number') prompt = prompt.replaceAll(phrase, noun);
        prompt = prompt
          .replace('Remember this:', INTROS[r.int(INTROS.length)] ?? '')
          .replace('Written in small letters on the last page:', INTROS[r.int(INTROS.length)] ?? '');
        emit(prompt);
      }
    }
  }
  // Evaluation: held-out templates in the held-out text (and passkeys in filler), never trained on.
  if (L >= 256 && !vary) {
    const ev = createRng(mixSeed(seed0, L, 99));
    const evDepths = [0, 25, 50, 75, 100];
    for (const sample of generate(
      {
        kind: 'niah',
        variant: 'single',
        contextLengths: [L],
        depths: evDepths,
        samplesPerCell: 2,
        heldOutTemplates: true,
        haystack: { kind: 'texts', names: [HELD_OUT_TEXT] },
      },
      1000 + ev.int(1e6),
      heldOutText,
    ))
      push(encodeTask(sample, { length: L, kind: 'eval-single', split: 'eval' }));
    for (const sample of generate(
      { kind: 'niah', variant: 'passkey', contextLengths: [L], depths: evDepths, samplesPerCell: 2, heldOutTemplates: true },
      2000 + ev.int(1e6),
    ))
      push(encodeTask(sample, { length: L, kind: 'eval-passkey', split: 'eval' }));
  }
  console.error(`L=${L}: ${tasks.length} tasks so far (${((Date.now() - started) / 1000).toFixed(0)} s)`);
}

mkdirSync(work, { recursive: true });
const fd = openSync(join(work, `${outName}.bin`), 'w');
const index: { offset: number; n: number; answerStart: number; length: number; kind: string; split: string }[] = [];
let offset = 0;
for (const t of tasks) {
  writeSync(fd, new Uint8Array(Int32Array.from(t.ids).buffer));
  index.push({ offset, n: t.ids.length, answerStart: t.answerStart, length: t.length, kind: t.kind, split: t.split });
  offset += t.ids.length;
}
closeSync(fd);
writeFileSync(join(work, `${outName}.json`), JSON.stringify({ tokens: offset, tasks: index }));
console.error(`wrote ${tasks.length} tasks, ${offset} tokens -> ${work}/${outName}.bin`);
