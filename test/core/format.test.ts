/**
 * core's formatters, the one spelling of bytes, counts, shares, durations and
 * token lengths shared by the reports and the app: the exact strings, and the
 * one "no value" mark for every formatter.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  byteUnit,
  errorMessage,
  formatBytes,
  formatBytesFixed,
  formatCount,
  formatDuration,
  formatFixed,
  formatInt,
  formatOfTotal,
  formatPercent,
  formatRate,
  formatSigned,
  formatTime,
  formatTokens,
  NO_VALUE,
} from '@kvlab/core';

describe('core formatting', () => {
  it('prints the en dash for a missing value, in every formatter', () => {
    assert.equal(NO_VALUE, '–');
    for (const fmt of [formatBytes, formatBytesFixed, formatCount, formatDuration, formatInt, formatPercent, formatSigned, (x: number) => formatFixed(x, 2)]) {
      assert.equal(fmt(Number.NaN), NO_VALUE);
      assert.equal(fmt(Number.POSITIVE_INFINITY), NO_VALUE);
    }
    assert.equal(formatRate(Number.NaN), '– tok/s');
    assert.equal(formatRate(0), '– tok/s');
    assert.equal(formatDuration(-1), NO_VALUE);
  });

  it('formats bytes with adaptive digits, or one fixed decimal in a shared unit', () => {
    assert.equal(formatBytes(512), '512 B');
    assert.equal(formatBytes(1536), '1.50 KiB');
    assert.equal(formatBytes(15 * 1024), '15.0 KiB');
    assert.equal(formatBytes(150 * 1024 ** 2), '150 MiB');
    assert.equal(formatBytes(-2048), '-2.00 KiB');
    assert.equal(formatBytes(2 * 1024 ** 4), '2.00 TiB');
    assert.equal(formatBytesFixed(512), '512 B');
    assert.equal(formatBytesFixed(12.3 * 1024), '12.3 KiB');
    assert.equal(formatBytesFixed(3 * 1024 ** 3), '3.0 GiB');
    assert.deepEqual(byteUnit(1023), { div: 1, name: 'B' });
    assert.deepEqual(byteUnit(5 * 1024 ** 2), { div: 1024 ** 2, name: 'MiB' });
    assert.deepEqual(byteUnit(5 * 1024 ** 4), { div: 1024 ** 3, name: 'GiB' });
  });

  it('formats counts, integers, shares and signed differences', () => {
    assert.equal(formatInt(1234567.4), '1,234,567');
    assert.equal(formatOfTotal(2048, 32768), '2,048 of 32,768');
    assert.equal(formatCount(999), '999');
    assert.equal(formatCount(1500), '1.5K');
    assert.equal(formatCount(260032), '260K');
    assert.equal(formatCount(1.2e9), '1.2B');
    assert.equal(formatCount(3.4e6), '3.4M');
    assert.equal(formatPercent(0.1234), '12.3%');
    assert.equal(formatPercent(0.5, 0), '50%');
    assert.equal(formatFixed(0.12345, 3), '0.123');
    assert.equal(formatSigned(0.25), '+0.25');
    assert.equal(formatSigned(-0.1), '−0.10');
    assert.equal(formatSigned(-0.001), '0.00');
    assert.equal(formatSigned(0.0004, 3), '0.000');
  });

  it('names token lengths in K from 1024 up, at multiples of 512', () => {
    assert.equal(formatTokens(4096), '4K');
    assert.equal(formatTokens(1536), '1.5K');
    assert.equal(formatTokens(1000), '1000');
    assert.equal(formatTokens(512), '512');
  });

  it('formats rates, durations and times of day', () => {
    assert.equal(formatRate(1234.5), '1,235 tok/s');
    assert.equal(formatRate(12.34), '12.3 tok/s');
    assert.equal(formatDuration(42), '42s');
    assert.equal(formatDuration(75), '1m 15s');
    assert.equal(formatDuration(3700), '1h 1m');
    assert.equal(formatTime('not a date'), 'not a date');
    assert.match(formatTime('2026-01-02T03:04:05Z'), /^\d\d:\d\d:\d\d$/);
  });

  it('reads the message of anything thrown', () => {
    assert.equal(errorMessage(new Error('boom')), 'boom');
    assert.equal(errorMessage('plain'), 'plain');
    assert.equal(errorMessage({ code: 'E_X', message: 'from the API' }), 'from the API');
    assert.equal(errorMessage(42), '42');
  });
});
