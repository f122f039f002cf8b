/**
 * The kvpress export: one folder per (model, workload, method, budget) named
 * as kvpress's evaluate.py names them, each with predictions.csv,
 * metrics.json and config.yaml in kvpress's shapes, and our budget mapped to
 * kvpress's compression_ratio = 1 − keep ratio.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { exportKvpress, KVPRESS_FILES, kvpressDataset, safeName, toYaml } from '../../electron/reports/kvpress.ts';
import { parseCsv, tempDir, writeResultsFolder } from './fixtures.ts';

const dir = writeResultsFolder();
const out = tempDir('kvpress');
const runs = exportKvpress(dir, out);
const read = (run: string, file: string): string => readFileSync(join(out, run, file), 'utf8');

// kvpress's EvaluationConfig fields, in order (evaluation/evaluate.py).
const KVPRESS_CONFIG_KEYS = [
  'dataset',
  'data_dir',
  'model',
  'device',
  'press_name',
  'compression_ratio',
  'key_channel_compression_ratio',
  'fraction',
  'max_new_tokens',
  'max_context_length',
  'compress_questions',
  'needle_depth',
  'compression_interval',
  'target_size',
  'hidden_states_buffer_size',
  'output_dir',
  'log_level',
  'model_kwargs',
  'press_init_command',
  'seed',
];

describe('kvpress export', () => {
  it('maps names as kvpress does', () => {
    assert.deepEqual(kvpressDataset('niah-single'), { dataset: 'needle_in_haystack', dataDir: 'single' });
    assert.deepEqual(kvpressDataset('longbench-qasper'), { dataset: 'longbench', dataDir: 'qasper' });
    assert.deepEqual(kvpressDataset('fidelity'), { dataset: 'fidelity', dataDir: '' });
    assert.equal(safeName('meta-llama/Llama-3.1-8B'), 'meta-llama--Llama-3.1-8B');
    assert.equal(safeName('snapkv/zigzagkv+adakv'), 'snapkv--zigzagkv+adakv');
    assert.equal(safeName('ZigZag, "quoted" <b>'), 'ZigZag,-quoted-b-');
    assert.equal(safeName('..'), '-');
  });

  it('writes one folder per model × workload × method × budget, each with the three files', () => {
    assert.equal(runs.length, 20);
    const names = readdirSync(out).sort();
    assert.equal(names.length, 20);
    for (const n of [
      'needle_in_haystack__single__tiny-llama__no_press__0.00',
      'needle_in_haystack__single__tiny-llama__snapkv--uniform__0.90',
      'needle_in_haystack__single__tiny-llama__snapkv--pyramidkv__0.75',
      'needle_in_haystack__single__tiny-llama__ZigZag,-quoted-b-__0.50',
      'fidelity__tiny-llama__snapkv--uniform__0.90',
      'fidelity__tiny-llama__no_press__0.00',
    ])
      assert.ok(names.includes(n), n);
    for (const n of names) for (const f of KVPRESS_FILES) assert.ok(existsSync(join(out, n, f)), `${n}/${f}`);
  });

  it('predictions.csv: one line per sample, kvpress columns first, no context', () => {
    const csv = parseCsv(read('needle_in_haystack__single__tiny-llama__snapkv--uniform__0.90', 'predictions.csv'));
    const [header = [], ...lines] = csv;
    assert.equal(lines.length, 6);
    assert.deepEqual(header.slice(0, 5), ['task', 'sample_id', 'answer', 'predicted_answer', 'compression_ratio']);
    assert.ok(header.includes('needle_depth') && header.includes('context_length') && !header.includes('context'));
    const first = lines[0] ?? [];
    assert.equal(first[0], 'niah-single');
    assert.deepEqual(JSON.parse(first[2] ?? ''), ['blue-42']);
    assert.match(first[3] ?? '', /^The needle is "blue-42", at depth \d+%,\nsaid the model$/);
    assert.equal(Number(first[4]), Number((1 - 28 / 276).toFixed(6)));
  });

  it('metrics.json: { task: { metric: percent } }, fidelity means for fidelity runs', () => {
    assert.deepEqual(JSON.parse(read('needle_in_haystack__single__tiny-llama__snapkv--uniform__0.90', 'metrics.json')), { 'niah-single': { niah: 16.67 } });
    assert.deepEqual(JSON.parse(read('needle_in_haystack__single__tiny-llama__no_press__0.00', 'metrics.json')), { 'niah-single': { niah: 100 } });
    const fid = JSON.parse(read('fidelity__tiny-llama__snapkv--uniform__0.90', 'metrics.json')) as { fidelity: Record<string, number> };
    assert.equal(fid.fidelity['top1'], 90.5);
    assert.equal(fid.fidelity['delta_nll'], 0.095);
    assert.equal(fid.fidelity['kl'], 0.0475);
    assert.equal(fid.fidelity['greedy_prefix'], 14.5); // round(0.91·16) = 15, round(0.90·16) = 14
  });

  it("config.yaml: kvpress's fields in its order, then kvlab_* extras", () => {
    const yaml = read('needle_in_haystack__single__tiny-llama__snapkv--uniform__0.90', 'config.yaml');
    const keys = [...yaml.matchAll(/^([a-z_0-9]+):/gm)].map((m) => m[1]);
    assert.deepEqual(keys.slice(0, KVPRESS_CONFIG_KEYS.length), KVPRESS_CONFIG_KEYS);
    assert.ok(keys.slice(KVPRESS_CONFIG_KEYS.length).every((k) => k?.startsWith('kvlab_')));
    assert.match(yaml, /^dataset: "needle_in_haystack"$/m);
    assert.match(yaml, /^data_dir: "single"$/m);
    assert.match(yaml, /^press_name: "snapkv--uniform"$/m);
    const cr = 1 - (28 / 276 + 53 / 532) / 2;
    assert.match(yaml, new RegExp(`^compression_ratio: ${Number(cr.toFixed(6))}$`, 'm'));
    assert.match(yaml, /^needle_depth:\n- 0\n- 50\n- 100$/m);
    assert.match(yaml, /^max_context_length: 512$/m);
    assert.match(yaml, /^model_kwargs: \{\}$/m);
    assert.match(yaml, /^kvlab_budget: "10%"$/m);
    const fid = read('fidelity__tiny-llama__no_press__0.00', 'config.yaml');
    assert.match(fid, /^data_dir: null$/m);
    assert.match(fid, /^compression_ratio: 0$/m);
    assert.match(fid, /^needle_depth: null$/m);
  });

  it('writes YAML scalars safely', () => {
    assert.equal(
      toYaml([
        ['s', 'a: "b"\n#c'],
        ['n', 1.5],
        ['z', null],
        ['b', false],
        ['l', [1, 'x']],
        ['e', []],
        ['m', {}],
        ['ls', 'x\u2028y'],
      ]),
      's: "a: \\"b\\"\\n#c"\nn: 1.5\nz: null\nb: false\nl:\n- 1\n- "x"\ne: []\nm: {}\nls: "x\\u2028y"\n',
    );
  });

  it('is idempotent: exporting again rewrites the same folders', () => {
    const again = exportKvpress(dir, out);
    assert.deepEqual(
      again.map((r) => r.name),
      runs.map((r) => r.name),
    );
    assert.equal(readdirSync(out).length, 20);
  });
});
