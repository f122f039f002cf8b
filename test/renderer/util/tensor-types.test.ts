/** The model card's stored tensor types in words: names, counts and shares by hand. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { tensorTypeRows, tensorTypeWords } from '../../../renderer/src/util/tensor-types.ts';

describe('tensor types in words', () => {
  it('names the float, integer and block types', () => {
    assert.equal(tensorTypeWords('F32'), '32-bit float');
    assert.equal(tensorTypeWords('BF16'), 'bfloat16 (16-bit)');
    assert.equal(tensorTypeWords('Q8_0'), '8-bit blocks');
    assert.equal(tensorTypeWords('Q4_K'), '4-bit blocks (k-quant)');
    assert.equal(tensorTypeWords('IQ4_NL'), '4-bit blocks (i-quant)');
    assert.equal(tensorTypeWords('I32'), '32-bit integer');
    assert.equal(tensorTypeWords('WEIRD'), 'WEIRD');
  });
  it('counts each type and its share of all stored values, most first', () => {
    // The bundled demo model: every one of its 1,705,600 values is F32.
    assert.deepEqual(tensorTypeRows({ F32: 1705600 }), [{ type: 'F32', words: '32-bit float', elements: 1705600, share: 1 }]);
    assert.deepEqual(
      tensorTypeRows({ F32: 1000, Q4_K: 3000, F16: 0 }).map((r) => [r.type, r.elements, r.share]),
      [
        ['Q4_K', 3000, 0.75],
        ['F32', 1000, 0.25],
      ],
    );
  });
});
