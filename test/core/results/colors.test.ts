/**
 * core's chart colours must be the static report's (electron/reports/svg.ts
 * re-exports core's): the same method in the same colour on screen and on
 * paper, and the same NIAH colormap.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { allocatorColors, deltaColor, FULL_COLOR, methodColors, NIAH_COLORS, niahColor, PALETTE } from '@kvlab/core';
import * as svg from '../../../electron/reports/svg.ts';

describe('chart colours', () => {
  it('palette, baseline colour and the NIAH colormap equal the report writer’s', () => {
    assert.deepEqual(PALETTE, svg.PALETTE);
    assert.equal(FULL_COLOR, svg.FULL_COLOR);
    assert.equal(svg.FULL_COLOR, '#333333');
    assert.deepEqual(NIAH_COLORS, svg.NIAH_COLORS);
    for (let i = 0; i <= 100; i++) assert.equal(niahColor(i / 100), svg.niahColor(i / 100), `at ${i / 100}`);
    assert.equal(niahColor(5, 0, 10), svg.niahColor(5, 0, 10));
  });

  it('method colours: full in the baseline colour, the rest through the palette in order', () => {
    const c = methodColors([
      { label: 'full', method: 'full' },
      { label: 'zz', method: 'snapkv/zigzagkv' },
      { label: 'u', method: 'snapkv/uniform' },
    ]);
    assert.deepEqual([...c.values()], [FULL_COLOR, PALETTE[0], PALETTE[1]]);
    assert.deepEqual(
      [...allocatorColors(['zigzagkv', 'uniform', 'pyramidkv']).entries()],
      [
        ['pyramidkv', PALETTE[0]],
        ['uniform', PALETTE[1]],
        ['zigzagkv', PALETTE[2]],
      ],
    );
  });

  it('Δ colours: white at 0, the ends at ±maxAbs, clamped beyond', () => {
    assert.equal(deltaColor(0), '#f7f7f7');
    assert.equal(deltaColor(1), '#0072b2');
    assert.equal(deltaColor(-1), '#d55e00');
    assert.equal(deltaColor(-5), '#d55e00');
    assert.equal(deltaColor(0.25, 0.25), '#0072b2');
  });
});
