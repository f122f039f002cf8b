/**
 * LongBench JSONL import (core/src/workloads/longbench.ts): the protocol tables
 * against the values of THUDM/LongBench (config/dataset2maxlen.json, eval.py
 * dataset2metric, pred.py's no-chat-template list, eval.py's first-line list),
 * parsing an inline JSONL with a malformed line, prompts, filters and limits.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { generateLongBench, LONGBENCH_DATASETS, LongBenchParseError, longBenchPrompt, parseLongBenchJsonl, scoreText } from '@kvlab/core';

const rec = (o: Record<string, unknown>): string =>
  JSON.stringify({ input: 'Q?', context: 'C.', answers: ['A'], length: 10, dataset: 'qasper', language: 'en', all_classes: null, _id: 'x', ...o });

const JSONL = [
  rec({ _id: 'q1', input: 'What is X?', context: 'X is {input}-free.', answers: ['a thing', 'thing'] }),
  '',
  rec({
    _id: 't1',
    dataset: 'trec',
    input: 'Who wrote it?',
    context: 'Question: Where? Type: Location',
    answers: ['Human'],
    all_classes: ['Human', 'Location', 'Entity'],
  }),
  rec({ _id: 'l1', dataset: 'lcc', input: '', context: 'def f():\n', answers: ['    return 1'] }),
  rec({ _id: 'q2', answers: ['b'] }),
  rec({ _id: 'e1', dataset: 'qasper_e' }),
].join('\n');

describe('LongBench protocol tables', () => {
  it('covers the 16 English + code datasets (and lsht) with dataset2maxlen.json, eval.py dataset2metric and pred.py chat-template settings', () => {
    // THUDM/LongBench config/dataset2maxlen.json (v1) and eval.py dataset2metric.
    const expected: Record<string, [number, string]> = {
      narrativeqa: [128, 'qa_f1'],
      qasper: [128, 'qa_f1'],
      multifieldqa_en: [64, 'qa_f1'],
      hotpotqa: [32, 'qa_f1'],
      '2wikimqa': [32, 'qa_f1'],
      musique: [32, 'qa_f1'],
      gov_report: [512, 'rouge_l'],
      qmsum: [512, 'rouge_l'],
      multi_news: [512, 'rouge_l'],
      trec: [64, 'classification'],
      triviaqa: [32, 'qa_f1'],
      samsum: [128, 'rouge_l'],
      lsht: [64, 'classification'],
      passage_count: [32, 'count'],
      passage_retrieval_en: [32, 'retrieval'],
      lcc: [64, 'code_sim'],
      'repobench-p': [64, 'code_sim'],
    };
    assert.deepEqual(Object.keys(LONGBENCH_DATASETS).sort(), Object.keys(expected).sort());
    for (const [name, c] of Object.entries(LONGBENCH_DATASETS)) {
      assert.deepEqual([c.maxNewTokens, c.metric], expected[name], name);
      assert.equal(c.chatTemplate, !['trec', 'triviaqa', 'samsum', 'lsht', 'lcc', 'repobench-p'].includes(name), name);
      assert.equal(c.firstLine, ['trec', 'triviaqa', 'samsum', 'lsht'].includes(name), name);
      assert.ok(c.prompt.includes('{context}'), name);
    }
  });

  it('fills {context} and {input} once, as str.format would (values are not re-substituted)', () => {
    assert.equal(
      longBenchPrompt(LONGBENCH_DATASETS['repobench-p'].prompt, { context: 'a {input} b\n', input: 'import x\n' }),
      'Please complete the code given below. \na {input} b\nimport x\nNext line of code:\n',
    );
  });
});

describe('parseLongBenchJsonl', () => {
  it('parses records, skipping blank lines and keeping line numbers', () => {
    const recs = parseLongBenchJsonl(`\uFEFF${JSONL}\n`);
    assert.deepEqual(
      recs.map((r) => [r._id, r.line, r.dataset]),
      [
        ['q1', 1, 'qasper'],
        ['t1', 3, 'trec'],
        ['l1', 4, 'lcc'],
        ['q2', 5, 'qasper'],
        ['e1', 6, 'qasper_e'],
      ],
    );
    assert.deepEqual(recs[1]?.all_classes, ['Human', 'Location', 'Entity']);
  });

  it('names the line and the problem of a malformed record', () => {
    const bad = (line: string, pattern: RegExp): void => {
      const text = `${rec({})}\n\n${line}\n${rec({})}`;
      assert.throws(
        () => parseLongBenchJsonl(text),
        (e: unknown) => e instanceof LongBenchParseError && e.line === 3 && e.code === 'E_LONGBENCH_PARSE' && pattern.test(e.message),
        line,
      );
    };
    bad('{"input": "Q", "context": ', /^LongBench JSONL line 3: invalid JSON/);
    bad('[1, 2]', /expected a JSON object/);
    bad(rec({ answers: 'A' }), /field 'answers' must be a non-empty array of strings, got a string/);
    bad(rec({ answers: [] }), /'answers' must be a non-empty array/);
    bad(rec({ context: undefined }), /field 'context' must be a string, got nothing \(missing\)/);
    bad(rec({ length: -3 }), /'length' must be a non-negative integer/);
    bad(rec({ all_classes: 'x' }), /'all_classes' must be null or an array of strings/);
    bad(rec({ _id: 7 }), /field '_id' must be a string, got number/);
  });
});

describe('generateLongBench', () => {
  it('builds samples with the dataset prompt, cap, metric and flags', () => {
    const [q1, t1, l1, q2, e1] = generateLongBench({ kind: 'longbench', path: 'x.jsonl' }, { texts: [JSONL] });
    assert.ok(q1 && t1 && l1 && q2 && e1);
    assert.equal(q1.id, 'longbench-qasper/q1');
    assert.equal(q1.workload, 'longbench-qasper');
    assert.ok(q1.prompt.startsWith('You are given a scientific article and a question.'));
    assert.ok(q1.prompt.includes('Article: X is {input}-free.\n\n Answer the question based on the above article'));
    assert.ok(q1.prompt.endsWith('Question: What is X?\n\nAnswer:'));
    assert.deepEqual([q1.metric, q1.maxNewTokens, q1.meta['chatTemplate'], q1.meta['firstLine']], ['qa_f1', 128, true, false]);
    assert.deepEqual(q1.answers, ['a thing', 'thing']);

    assert.equal(
      t1.prompt,
      'Please determine the type of the question below. Here are some examples of questions.\n\nQuestion: Where? Type: Location\nWho wrote it?',
    );
    assert.deepEqual([t1.metric, t1.maxNewTokens, t1.meta['chatTemplate'], t1.meta['firstLine']], ['classification', 64, false, true]);
    assert.deepEqual(JSON.parse(String(t1.meta['allClasses'])), ['Human', 'Location', 'Entity']);
    // eval.py: first line only, then classification against all_classes.
    assert.equal(scoreText(t1, '\nHuman\nLocation'), 1);
    assert.equal(scoreText(t1, 'Human or Location'), 0.5);

    assert.equal(l1.prompt, 'Please complete the code given below. \ndef f():\nNext line of code:\n');
    assert.deepEqual([l1.metric, l1.meta['chatTemplate']], ['code_sim', false]);
    assert.equal(e1.workload, 'longbench-qasper');
    assert.equal(e1.meta['longbenchE'], true);
  });

  it('filters datasets and limits samples per dataset, in file order', () => {
    const only = generateLongBench({ kind: 'longbench', path: 'x', datasets: ['qasper'], limit: 2 }, { texts: [JSONL] });
    assert.deepEqual(
      only.map((s) => s.id),
      ['longbench-qasper/q1', 'longbench-qasper/q2'],
    );
  });

  it('rejects unsupported datasets and classification without classes, naming the line', () => {
    assert.throws(
      () => generateLongBench({ kind: 'longbench', path: 'x' }, { texts: [`${rec({})}\n${rec({ dataset: 'vcsum' })}`] }),
      /line 2: dataset 'vcsum' is not supported: .*jieba/,
    );
    assert.throws(
      () => generateLongBench({ kind: 'longbench', path: 'x' }, { texts: [rec({ dataset: 'foo' })] }),
      /line 1: dataset 'foo' is not supported: unknown dataset/,
    );
    assert.throws(() => generateLongBench({ kind: 'longbench', path: 'x' }, { texts: [rec({ dataset: 'trec' })] }), /line 1: .*needs 'all_classes'/);
  });
});
