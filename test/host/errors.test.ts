/**
 * The one error mapping (electron/host/errors.ts) over every error class KV
 * Lab exports: the classes are found by reading the sources (core/src and
 * electron/), so a new `export class FooError` fails this test until it
 * extends LabError and is listed below with the API code users should get.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, it } from 'node:test';
import type { ApiErrorCode } from '@kvlab/core';
import {
  ApiError,
  BudgetError,
  ExperimentError,
  LabError,
  LongBenchParseError,
  MissingInputError,
  ParamError,
  ReportError,
  ShapeError,
  UnknownMethodError,
  WorkloadError,
} from '@kvlab/core';
import { EngineSetupError } from '../../electron/engine/engine.ts';
import { ModelFileError } from '../../electron/engine/model.ts';
import { WorkloadFileError } from '../../electron/experiments/samples.ts';
import { LockError, StoreError } from '../../electron/experiments/store.ts';
import { toApiError } from '../../electron/host/errors.ts';
import { ChromiumMissingError, PdfError } from '../../electron/reports/pdf.ts';
import { TlsFileError } from '../../electron/server/serve.ts';

const ROOT = join(import.meta.dirname, '..', '..');

/** Every error class with one instance and the API answer it must give. */
const EXPECTED: Record<string, { make: () => LabError; code: ApiErrorCode; details?: unknown }> = {
  ParamError: { make: () => new ParamError('snapkv', 'windowSize', 'must be ≥ 1, got 0'), code: 'E_INVALID' },
  ShapeError: { make: () => new ShapeError('scores', 'holds NaN'), code: 'E_INVALID' },
  BudgetError: { make: () => new BudgetError('budget', 'too small'), code: 'E_INVALID' },
  UnknownMethodError: { make: () => new UnknownMethodError('scorer', 'nope', ['snapkv']), code: 'E_INVALID' },
  MissingInputError: { make: () => new MissingInputError('zigzagkv', 'stats.entropy'), code: 'E_INVALID' },
  // These two once reached the UI as E_INTERNAL: each class states its code (LabError.apiCode), so they no longer can.
  WorkloadError: { make: () => new WorkloadError('niah', 'length below the template'), code: 'E_INVALID' },
  LongBenchParseError: { make: () => new LongBenchParseError(3, 'not JSON'), code: 'E_INVALID' },
  ExperimentError: { make: () => new ExperimentError('exp.json', ['a', 'b']), code: 'E_INVALID', details: { issues: ['a', 'b'] } },
  ReportError: { make: () => new ReportError('no rows'), code: 'E_INVALID' },
  EngineSetupError: { make: () => new EngineSetupError('the f16 KV cache cannot run on this GPU adapter'), code: 'E_INVALID' },
  ModelFileError: {
    make: () => new ModelFileError('m.gguf', 'bad', 'E_MODEL_UNSUPPORTED'),
    code: 'E_MODEL',
    details: { file: 'm.gguf', reason: 'E_MODEL_UNSUPPORTED' },
  },
  WorkloadFileError: { make: () => new WorkloadFileError('t.txt', 'text not found'), code: 'E_NOT_FOUND', details: { file: 't.txt' } },
  StoreError: { make: () => new StoreError('/r/results.jsonl', 'disk full'), code: 'E_INTERNAL', details: { file: '/r/results.jsonl' } },
  LockError: { make: () => new LockError('/r', undefined, 'held'), code: 'E_BUSY', details: { file: '/r', holder: undefined } },
  ChromiumMissingError: {
    make: () => new ChromiumMissingError(['chromium']),
    code: 'E_NOT_FOUND',
    details: { reason: 'chromium-missing', tried: ['chromium'] },
  },
  TlsFileError: { make: () => new TlsFileError('/k.pem', '--tls-key no such file'), code: 'E_INVALID' },
  PdfError: { make: () => new PdfError('/o.pdf', 'exited with code 3'), code: 'E_INTERNAL', details: { file: '/o.pdf' } },
};

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return sources(p);
    return name.endsWith('.ts') && !name.endsWith('.d.ts') ? [p] : [];
  });
}

/** `export class XError extends …` in the sources, with the file that declares it. */
function exportedErrorClasses(): { name: string; file: string }[] {
  return [...sources(join(ROOT, 'core', 'src')), ...sources(join(ROOT, 'electron'))].flatMap((file) =>
    [...readFileSync(file, 'utf8').matchAll(/^export (?:abstract )?class (\w+Error) extends/gm)].map((m) => ({ name: m[1] ?? '', file })),
  );
}

describe('error classes and their API codes', () => {
  const found = exportedErrorClasses().filter((c) => c.name !== 'LabError' && c.name !== 'ApiError');

  it('every exported error class is listed here with its API code (a new one must be added)', () => {
    assert.ok(found.length >= Object.keys(EXPECTED).length, 'the source scan finds the classes');
    assert.deepEqual(found.map((c) => c.name).sort(), Object.keys(EXPECTED).sort());
  });

  for (const { name, file } of found) {
    it(`${name} (${relative(ROOT, file)}) extends LabError and is answered with its code`, async () => {
      const mod = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
      const cls = mod[name];
      assert.equal(typeof cls, 'function');
      assert.ok((cls as { prototype: unknown }).prototype instanceof LabError, `${name} extends LabError`);
      const want = EXPECTED[name];
      assert.ok(want, `${name} has an expected code`);
      const e = want.make();
      assert.ok(e instanceof (cls as new () => unknown), 'the listed factory builds this class');
      assert.equal(e.name, name, 'keeps its name');
      assert.equal(e.apiCode, want.code);
      const api = toApiError(e);
      assert.ok(api instanceof ApiError);
      assert.equal(api.code, want.code);
      assert.equal(api.message, e.message, 'the message reaches the user unchanged');
      assert.deepEqual(api.details, want.details);
    });
  }

  it('an ApiError passes through, a cancelled signal is E_CANCELLED, and anything else is E_INTERNAL with its message', () => {
    const api = new ApiError('E_BUSY', 'busy');
    assert.equal(toApiError(api), api);
    const ac = new AbortController();
    ac.abort();
    assert.equal(toApiError(ac.signal.reason).code, 'E_CANCELLED');
    assert.deepEqual(toApiError(new Error('boom')).toJSON(), { code: 'E_INTERNAL', message: 'boom' });
    assert.deepEqual(toApiError('text').toJSON(), { code: 'E_INTERNAL', message: 'text' });
    // A built-in RangeError from a bug is not a user error.
    assert.equal(toApiError(new RangeError('index out of range')).code, 'E_INTERNAL');
  });
});
