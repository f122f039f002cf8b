import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ANSWER_MARGIN, promptRoom } from '@kvlab/core';

test('promptRoom: the demo model (2,048-token context) takes NIAH prompts of up to 1,984 tokens with its 32-token answer cap', () => {
  assert.equal(promptRoom(2048, 32), 1984);
  assert.equal(promptRoom(2048, 32) + 32 + ANSWER_MARGIN, 2048);
});

test('promptRoom: a generation cap as long as the context leaves no room (negative, never clamped, so callers can say by how much)', () => {
  assert.equal(promptRoom(128, 128), -ANSWER_MARGIN);
});
