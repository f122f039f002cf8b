/**
 * Invalid payloads for every API method, shared by the HTTP and the IPC fuzz
 * tests (api-fuzz.test.ts). Each case starts from a valid payload (whose run
 * ids and files do not exist) and breaks it: a field replaced by a value of
 * the wrong kind, removed, joined by an extra one, or the whole payload
 * replaced. The values are what users and scripts actually send by mistake,
 * and what an attacker would try in a path field.
 */
import fc from 'fast-check';
import type { LabCall } from '@kvlab/core';
import { LAB_CALLS } from '@kvlab/core';

/** A string the HTTP test writes into the body as a bare number JSON cannot otherwise carry: 1e309 parses to Infinity. */
export const HUGE = '\u0001huge';
export const NEG_HUGE = '\u0001-huge';

/** Hand-picked bad values: every one has broken a boundary somewhere. */
const NASTY: readonly unknown[] = [
  '',
  ' ',
  'abc',
  '\u0000',
  'a\u0000b',
  '../../etc/passwd',
  '../../../../../../../../etc/passwd',
  '/etc/passwd',
  '/etc',
  '/',
  '.',
  '..',
  '/dev/null',
  'C:\\Windows\\win.ini',
  '..\\..\\windows',
  'NaN',
  'Infinity',
  '-1',
  '1e309',
  '0x10',
  '%',
  '-5%',
  '150%',
  'cr:',
  'cr:2',
  '1e309%',
  'NaN%',
  '64ZiB',
  '99999999999999999999999',
  'snapkv+',
  '+',
  'full+pyramidkv',
  'x'.repeat(70_000),
  'constructor',
  '__proto__',
  '💥',
  -1,
  0,
  -0,
  0.5,
  1.5,
  -1e308,
  1e308,
  2 ** 53 + 2,
  Number.MAX_SAFE_INTEGER,
  -(2 ** 31),
  HUGE,
  NEG_HUGE,
  NaN,
  Infinity,
  -Infinity,
  null,
  true,
  false,
  [],
  [null],
  ['../../etc/passwd'],
  {},
  { __proto__: null, constructor: 1 },
  { toString: 'x' },
  // One problem per key: thousands of unknown fields must still make a short message.
  Object.fromEntries(Array.from({ length: 3000 }, (_, i) => [`field${i}`, i])),
];

export const nastyValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...NASTY) },
  { weight: 1, arbitrary: fc.string({ maxLength: 40 }) },
  { weight: 1, arbitrary: fc.integer() },
  { weight: 1, arbitrary: fc.double() },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) },
);

/** Valid payloads for every method, the starting points the fuzzer breaks: the model is the real default one (a payload left valid really runs it); runs, files and repos do not exist. */
export function templates(ids: { modelId: string }): Record<LabCall, Record<string, unknown>> {
  const runId = 'fuzz-run-that-does-not-exist';
  return {
    getAppInfo: {},
    getSettings: {},
    updateSettings: { theme: 'dark', threads: 1 },
    listModels: {},
    openModel: { path: 'no/such/model.gguf' },
    downloadModel: { repo: 'fuzz-owner/no-such-model', revision: 'main', file: 'model-Q4_0.gguf' },
    getModelCard: { modelId: ids.modelId },
    describeMethods: {},
    runPlayground: { modelId: ids.modelId, prompt: 'Once upon a time', maxNewTokens: 2, configs: [{ method: 'snapkv', budget: '50%' }], chatTemplate: false },
    playgroundExample: { modelId: ids.modelId, kind: 'passkey', contextLength: 128, depth: 50, template: 'train-0', seed: 1 },
    profileModel: { modelId: ids.modelId, prompt: 'Once upon a time there was a dog.', tau: 0.9, windowSize: 4, tauO: 0.95, lmbo: true, requestId: 'fuzz-1' },
    cancelCall: { requestId: 'fuzz-call-that-is-not-in-flight' },
    startRun: {
      name: 'fuzz',
      experiment: {
        name: 'fuzz',
        models: ['no/such/model.gguf'],
        methods: ['snapkv'],
        budgets: ['25%'],
        workloads: [{ kind: 'niah', variant: 'single', contextLengths: [64], depths: [50] }],
        seed: 1,
        generation: { maxNewTokens: 2 },
      },
    },
    listRuns: {},
    getRun: { runId },
    cancelRun: { runId },
    resumeRun: { runId },
    getResults: { runId, offset: 0, limit: 10 },
    getSample: { runId, sampleId: 'niah-single-64-50' },
    exportReport: { runId, format: 'csv' },
  };
}

type Json = unknown;
type Path = readonly (string | number)[];

/** Every place in a payload a value sits at (objects' keys and arrays' indices, nested). */
function paths(x: Json, at: Path = []): Path[] {
  if (Array.isArray(x)) return x.flatMap((v, i) => [[...at, i], ...paths(v, [...at, i])]);
  if (typeof x === 'object' && x !== null) return Object.entries(x).flatMap(([k, v]) => [[...at, k], ...paths(v, [...at, k])]);
  return [];
}

function edit(x: Json, path: Path, f: (parent: Record<string | number, unknown>, key: string | number) => void): Json {
  const copy = structuredClone(x) as Record<string | number, unknown>;
  let parent = copy;
  for (const k of path.slice(0, -1)) parent = parent[k] as Record<string | number, unknown>;
  const last = path[path.length - 1];
  if (last !== undefined) f(parent, last);
  return copy;
}

export type Mutation =
  | { readonly op: 'replace'; readonly path: Path; readonly value: unknown }
  | { readonly op: 'delete'; readonly path: Path }
  | { readonly op: 'extra'; readonly path: Path; readonly key: string; readonly value: unknown }
  | { readonly op: 'whole'; readonly value: unknown };

export function applyMutation(payload: Json, m: Mutation): Json {
  switch (m.op) {
    case 'whole':
      return m.value;
    case 'replace':
      return edit(payload, m.path, (p, k) => {
        p[k] = m.value;
      });
    case 'delete':
      return edit(payload, m.path, (p, k) => {
        if (Array.isArray(p)) p.splice(Number(k), 1);
        else Reflect.deleteProperty(p, k);
      });
    case 'extra': {
      // An extra key on the object at `path` (or the top level).
      const target = [...m.path, m.key];
      return edit(payload, target, (p, k) => {
        if (typeof p === 'object' && p !== null && !Array.isArray(p))
          Object.defineProperty(p, k, { value: m.value, enumerable: true, writable: true, configurable: true });
      });
    }
  }
}

/** One broken payload for `method`: one to three mutations of its template. */
export function brokenPayload(template: Record<string, unknown>): fc.Arbitrary<{ payload: Json; mutations: Mutation[] }> {
  const places = paths(template);
  const objects: Path[] = [[], ...places.filter((p) => isObject(get(template, p)))];
  const mutation: fc.Arbitrary<Mutation> = fc.oneof(
    ...(places.length
      ? [
          { weight: 6, arbitrary: fc.record({ op: fc.constant('replace' as const), path: fc.constantFrom(...places), value: nastyValue }) },
          { weight: 2, arbitrary: fc.record({ op: fc.constant('delete' as const), path: fc.constantFrom(...places) }) },
        ]
      : []),
    {
      weight: 2,
      arbitrary: fc.record({
        op: fc.constant('extra' as const),
        path: fc.constantFrom(...objects),
        key: fc.constantFrom('extra', '__proto__', 'constructor', 'token', '../x'),
        value: nastyValue,
      }),
    },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('whole' as const), value: nastyValue }) },
  );
  return fc.array(mutation, { minLength: 1, maxLength: 3 }).map((mutations) => {
    let payload: Json = template;
    for (const m of mutations) {
      try {
        payload = applyMutation(payload, m);
      } catch {
        // A later mutation whose place an earlier one removed: keep what we have.
      }
    }
    return { payload, mutations };
  });
}

const isObject = (x: unknown): boolean => typeof x === 'object' && x !== null && !Array.isArray(x);
function get(x: Json, path: Path): unknown {
  let v = x as Record<string | number, unknown> | undefined;
  for (const k of path) v = v?.[k] as Record<string | number, unknown> | undefined;
  return v;
}

/** JSON text for the HTTP body: NaN/±Infinity become null as JSON.stringify writes them, HUGE becomes 1e309 (parsed as Infinity). */
export function toJsonText(payload: Json): string {
  const text = JSON.stringify(payload) ?? 'null';
  return text.replaceAll(JSON.stringify(HUGE), '1e309').replaceAll(JSON.stringify(NEG_HUGE), '-1e309');
}

/** The IPC path carries numbers as they are (structured clone): HUGE is Infinity there, NaN stays NaN. */
export function toIpcValue(payload: Json): Json {
  if (payload === HUGE) return Infinity;
  if (payload === NEG_HUGE) return -Infinity;
  if (Array.isArray(payload)) return payload.map(toIpcValue);
  if (isObject(payload)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(payload as object))
      Object.defineProperty(out, k, { value: toIpcValue(v), enumerable: true, writable: true, configurable: true });
    return out;
  }
  return payload;
}

export const FUZZ_METHODS: readonly LabCall[] = LAB_CALLS;

/** A message a user can act on: names something, and is no stack trace or JS internals. */
export function userWorded(message: unknown): string | null {
  if (typeof message !== 'string' || message.trim() === '') return 'no message';
  if (/\n\s+at /.test(message)) return 'a stack trace';
  if (/Cannot read propert|is not a function|is not iterable|undefined is not|of undefined|\[object Object\]/.test(message)) return 'JS internals';
  if (message.length > 4000) return `a ${message.length}-character message`;
  return null;
}
