/**
 * Aggregates of the hand-written fixture (fixtures.ts) against hand
 * arithmetic: means, standard deviations and Student-t intervals, measured
 * and nominal KV bytes, the Pareto frontier, NIAH grids, per-layer budgets
 * with the LMBA overlay, fidelity curves and the sanity report.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { GroupSummary } from '@kvlab/core';
import { aggregate, allocatorOf, paretoFrontiers, ReportError, splitRows, stat, tQuantile975 } from '@kvlab/core';
import type { StoredRow } from '../../electron/experiments/store.ts';
import { BYTES_PER_TOKEN, COMMIT, EXPERIMENT, fixtureRows, HOST, MODEL } from './fixtures.ts';

const close = (a: number, b: number, tol = 1e-6, what = ''): void => assert.ok(Math.abs(a - b) <= tol, `${what} ${a} ≠ ${b}`);
type Row = StoredRow & Readonly<Record<string, unknown>>;
const rows = (): Row[] => fixtureRows() as unknown as Row[];
const data = aggregate(EXPERIMENT, rows());
const group = (workload: string, label: string, budget: string): GroupSummary => {
  const g = data.groups.find((x) => x.workload === workload && x.methodLabel === label && x.budget === budget);
  assert.ok(g, `group ${workload} ${label} ${budget}`);
  return g;
};
const ZZ = 'ZigZag, "quoted" <b>';

describe('statistics', () => {
  it('mean, sample std and the Student-t 95 % interval', () => {
    // [1, 2, 3, 4]: mean 2.5, var (2.25+0.25+0.25+2.25)/3 = 5/3, std 1.290994, t(3) = 3.182 → 3.182·1.290994/2 = 2.054
    const s = stat([1, 2, 3, 4]);
    close(s.mean, 2.5);
    close(s.std, Math.sqrt(5 / 3));
    close(s.ci95, (3.182 * Math.sqrt(5 / 3)) / 2);
    assert.deepEqual(stat([0.7]), { n: 1, mean: 0.7, std: 0, ci95: 0 });
    assert.ok(Number.isNaN(stat([]).mean));
  });

  it('t quantiles: the table, then the expansion converging to 1.96', () => {
    close(tQuantile975(1), 12.706);
    close(tQuantile975(30), 2.042);
    close(tQuantile975(60), 2.0003, 1e-3); // tables: 2.000
    close(tQuantile975(120), 1.9799, 1e-3); // tables: 1.980
    close(tQuantile975(1e9), 1.96, 1e-3);
  });
});

describe('groups', () => {
  it('one group per (model, workload, method, budget), in report order', () => {
    assert.equal(data.groups.length, 20); // 2 workloads × (full + 3 methods × 3 budgets)
    assert.deepEqual(
      data.groups.slice(0, 4).map((g) => [g.workload, g.methodLabel, g.budget]),
      [
        ['fidelity', 'full', 'full'],
        ['fidelity', ZZ, '10%'],
        ['fidelity', ZZ, '25%'],
        ['fidelity', ZZ, '50%'],
      ],
    );
    assert.equal(data.groups[10]?.workload, 'niah-single');
  });

  it('snapkv/uniform @ 10% on NIAH: scores [0, 1/6, 1/6, 1/3, 1/3, 0]', () => {
    const g = group('niah-single', 'snapkv/uniform', '10%');
    assert.equal(g.score.n, 6);
    close(g.score.mean, 1 / 6);
    close(g.score.std, Math.sqrt(0.2) / 3); // deviations ±1/6 (four) and 0 (two): Σ = 4/36, /5
    close(g.score.ci95, (2.571 * (Math.sqrt(0.2) / 3)) / Math.sqrt(6));
    assert.equal(g.metric, 'niah');
    // b = round(0.1·276) = 28 and round(0.1·532) = 53 tokens per head and layer, 512 B each.
    close(g.heldBytes, ((28 + 53) / 2) * BYTES_PER_TOKEN);
    close(g.nominalBytes, g.heldBytes);
    close(g.fullBytes, ((276 + 532) / 2) * BYTES_PER_TOKEN);
    close(g.nominalRatio, (28 / 276 + 53 / 532) / 2);
    close(g.measuredRatio, g.nominalRatio);
    assert.deepEqual(g.flags, []);
  });

  it('measured bytes differ from nominal where the method held more', () => {
    const p = group('niah-single', 'snapkv/pyramidkv', '10%');
    close(p.heldBytes - p.nominalBytes, 2048);
    const z = group('niah-single', ZZ, '10%');
    // Five cells at b·512, the flagged one (depth 0, 256) at the full 276·512.
    close(z.heldBytes, (276 * 512 + 3 * 53 * 512 + 2 * 28 * 512) / 6);
    close(z.measuredRatio, (1 + 3 * (53 / 532) + 2 * (28 / 276)) / 6);
    assert.deepEqual(z.flags, ['not-compressed']);
    assert.equal(z.flaggedCells, 1);
  });

  it('fidelity stats: ΔNLL 0.09 and 0.10 for uniform @ 10 %', () => {
    const g = group('fidelity', 'snapkv/uniform', '10%');
    assert.ok(g.fidelity);
    close(g.fidelity.deltaNll.mean, 0.095);
    close(g.fidelity.deltaNll.std, Math.sqrt(0.00005));
    close(g.fidelity.deltaNll.ci95, 12.706 * 0.005);
    close(g.fidelity.kl.mean, 0.0475);
    close(g.fidelity.top1.mean, 0.905);
    close(g.score.mean, 0.905);
    assert.equal(group('niah-single', 'snapkv/uniform', '10%').fidelity, undefined);
  });
});

describe('Pareto frontier', () => {
  it('keeps the points no other point beats on memory and score', () => {
    const g = (key: string, heldBytes: number, score: number): GroupSummary =>
      ({ key, model: 'm', workload: 'w', heldBytes, score: { n: 1, mean: score, std: 0, ci95: 0 } }) as GroupSummary;
    // E(5,.1) A(10,.5) B(20,.4) C(30,.9) D(30,.8): B is beaten by A, D by C.
    const [f] = paretoFrontiers([g('A', 10, 0.5), g('B', 20, 0.4), g('C', 30, 0.9), g('D', 30, 0.8), g('E', 5, 0.1)]);
    assert.deepEqual(f?.keys, ['E', 'A', 'C']);
  });

  it('on the fixture fidelity workload: uniform at each budget, then full', () => {
    const f = data.pareto.find((p) => p.workload === 'fidelity');
    const labels = f?.keys.map((k) => data.groups.find((g) => g.key === k)).map((g) => `${g?.methodLabel}@${g?.budget}`);
    // Uniform and ZigZag hold the same bytes at each budget; uniform scores higher; pyramid holds 2 KiB more for less.
    assert.deepEqual(labels, ['snapkv/uniform@10%', 'snapkv/uniform@25%', 'snapkv/uniform@50%', 'full@full']);
  });
});

describe('NIAH grids', () => {
  it('depth × length means per method and budget, on shared axes', () => {
    assert.equal(data.niah.length, 10);
    const g = data.niah.find((x) => x.methodLabel === 'snapkv/uniform' && x.budget === '10%');
    assert.ok(g);
    assert.deepEqual(g.depths, [0, 50, 100]);
    assert.deepEqual(g.lengths, [256, 512]);
    const expected = [
      [0, 1 / 6],
      [1 / 6, 1 / 3],
      [1 / 3, 0],
    ];
    g.mean.forEach((row, d) => row.forEach((v, l) => close(v ?? Number.NaN, expected[d]?.[l] ?? Number.NaN)));
    assert.deepEqual(g.count, [
      [1, 1],
      [1, 1],
      [1, 1],
    ]);
    const full = data.niah.find((x) => x.methodLabel === 'full');
    assert.deepEqual(full?.mean, [
      [1, 1],
      [1, 1],
      [1, 1],
    ]);
  });

  it('an empty cell is null', () => {
    const rs = rows().filter((r) => !(r['sampleId'] === 'niah-single/c512/d50/s0' && r['method'] === 'full'));
    const full = aggregate(EXPERIMENT, rs).niah.find((x) => x.methodLabel === 'full');
    assert.deepEqual(full?.mean[1], [1, null]);
  });
});

describe('per-layer budgets', () => {
  it('one series per allocator, mean layer budgets, LMBA from the cells', () => {
    assert.deepEqual(
      data.layerBudgets.map((c) => c.budget),
      ['10%', '25%', '50%'],
    );
    const c = data.layerBudgets[0];
    assert.ok(c);
    assert.equal(c.layers, 4);
    assert.deepEqual(
      c.series.map((s) => [s.allocator, s.n, s.methods]),
      [
        ['pyramidkv', 8, ['snapkv/pyramidkv']],
        ['uniform', 8, ['snapkv/uniform']],
        ['zigzagkv', 8, [ZZ]],
      ],
    );
    // Uniform @10%: 3 NIAH cells at 28, 3 at 53, 2 fidelity cells at 26 tokens.
    for (const v of c.series[1]?.budgets ?? []) close(v, (3 * 28 + 3 * 53 + 2 * 26) / 8);
    // Pyramid layer 0: round(1.5·b) = 42, 80, 39.
    close(c.series[0]?.budgets[0] ?? Number.NaN, (3 * 42 + 3 * 80 + 2 * 39) / 8);
    assert.deepEqual(c.lmba, [40, 10, 25, 5]);
    assert.equal(c.lmbaSource, 'cells');
  });

  it('falls back to the profile rows for the LMBA overlay', () => {
    const rs = rows().map((r) => (r['method'] === 'snapkv/zigzagkv' ? ({ ...r, lmba: undefined } as StoredRow) : r));
    const c = aggregate(EXPERIMENT, rs).layerBudgets[0];
    assert.deepEqual(c?.lmba, [38, 12, 24, 6]);
    assert.equal(c?.lmbaSource, 'profile');
  });

  it('reads the allocator from the method string', () => {
    assert.equal(allocatorOf('snapkv/zigzagkv+adakv'), 'zigzagkv');
    assert.equal(allocatorOf('h2o'), 'uniform');
    assert.equal(allocatorOf('pyramidkv'), 'pyramidkv');
    assert.equal(allocatorOf('full'), null);
    assert.equal(allocatorOf('newscorer/newalloc'), 'newalloc');
  });
});

describe('fidelity curves, profiles, sanity, summary, provenance', () => {
  it('ΔNLL and KL per method against the budget', () => {
    assert.equal(data.fidelity.length, 1);
    const f = data.fidelity[0];
    assert.deepEqual(
      f?.curves.map((c) => c.methodLabel),
      [ZZ, 'snapkv/pyramidkv', 'snapkv/uniform'],
    );
    const u = f?.curves[2];
    assert.deepEqual(
      u?.points.map((p) => p.budget),
      ['10%', '25%', '50%'],
    );
    // ΔNLL(m = 0) = (1 − pct)·0.1 + 0.005 on average over s = 0, 1.
    [0.1, 0.25, 0.5].forEach((pct, i) => close(u?.points[i]?.deltaNll.mean ?? Number.NaN, (1 - pct) * 0.1 + 0.005));
    close(u?.points[1]?.kl.mean ?? Number.NaN, 0.08 / 2);
  });

  it('profile summaries', () => {
    assert.deepEqual(data.profiles, [
      { model: 'tiny-llama', workload: 'fidelity', samples: 1, tau: 0.9, tauO: 0.95, lmba: [38, 12, 24, 6], lmbo: [30, 10, 20, 4] },
    ]);
  });

  it('sanity flags from cells and check rows, warnings first', () => {
    assert.deepEqual(
      data.sanity.map((e) => [e.flag, e.severity, e.cells]),
      [
        ['not-compressed', 'warning', 1],
        ['state-leak', 'warning', 1],
      ],
    );
    assert.deepEqual(data.sanity[0]?.groups, [`tiny-llama · niah-single · ${ZZ} @ 10%`]);
    assert.match(data.sanity[1]?.groups[0] ?? '', /check state-leak: niah-single\/c256\/d0\/s0 differed/);
  });

  it('summary', () => {
    const s = data.summary;
    assert.equal(s.name, 'Report fixture, "sweep" <1>');
    assert.deepEqual(s.models, ['tiny-llama']);
    assert.deepEqual(s.budgets, ['10%', '25%', '50%', 'full']);
    assert.deepEqual(
      s.methods.map((m) => m.label),
      ['full', ZZ, 'snapkv/pyramidkv', 'snapkv/uniform'],
    );
    assert.deepEqual(s.workloads, ['fidelity', 'niah-single']);
    assert.equal(s.cells, 80);
    assert.equal(s.samples, 8);
    assert.equal(s.profiles, 1);
    assert.equal(s.firstDate, '2026-09-01T10:00:00.000Z');
    assert.equal(s.lastDate, '2026-09-01T10:01:20.000Z');
  });

  it('provenance: one line per distinct combination, with the date range', () => {
    assert.equal(data.provenance.length, 1);
    const p = data.provenance[0];
    assert.equal(p?.commit, COMMIT);
    assert.equal(p?.modelSha256, MODEL.sha256);
    assert.equal(p?.rows, 81);
    assert.match(p?.machine ?? '', new RegExp(`^${HOST} · linux 6\\.1\\.0 x64 · Test CPU @ 3\\.0GHz ×16 · 64\\.0 GiB$`));
    const other = rows().map((r, i) =>
      i === 0 ? ({ ...r, provenance: { ...(r['provenance'] as object), executionProvider: 'cuda' } } as unknown as StoredRow) : r,
    );
    assert.equal(aggregate(EXPERIMENT, other).provenance.length, 2);
    // A row on a WebGPU adapter names it, and says when it is a software one.
    const adapter = { name: 'SwiftShader Device (Subzero)', backend: 'vulkan', software: true, source: 'test' };
    const gpu = rows().map((r, i) =>
      i === 0 ? ({ ...r, provenance: { ...(r['provenance'] as object), executionProvider: 'webgpu', adapter } } as unknown as StoredRow) : r,
    );
    assert.ok(aggregate(EXPERIMENT, gpu).provenance.some((e) => e.executionProvider === 'webgpu · SwiftShader Device (Subzero), vulkan, software adapter'));
  });
});

describe('robustness', () => {
  it('does not depend on the order rows were appended in', () => {
    assert.deepEqual(aggregate(EXPERIMENT, [...rows()].reverse()), data);
  });

  it('names the cell of a row it cannot read, and ignores unknown kinds', () => {
    const bad = {
      cellId: 'x1',
      experimentHash: 'h',
      kind: 'cell',
      model: { name: 'm' },
      workload: 'w',
      sampleId: 's',
      method: 'full',
      methodLabel: 'full',
      budget: 'full',
      score: 1,
    };
    assert.throws(
      () => splitRows([bad]),
      (e: unknown) => e instanceof ReportError && /row x1: has no KV measurement/.test(e.message),
    );
    assert.deepEqual(splitRows([{ cellId: 'y', experimentHash: 'h', kind: 'future-kind' } as StoredRow]), { cells: [], profiles: [], checks: [] });
  });
});
