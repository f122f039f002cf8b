/**
 * When the full-KV baseline's misses become an alarm: the rule both the
 * groups (which carry the flag only past it) and the sanity report (which
 * words it as a warning or a note) apply.
 */
import type { ResultRow } from '../api/rows.ts';

/**
 * The share of a full-KV group's cells (one model, workload) that must score
 * below the expected baseline before 'low-baseline' is a warning.
 *
 * The runner flags each full-KV cell that scores below what the workload
 * expects, so on a pass/fail metric every single miss is flagged. A model
 * that can do the task still misses some samples — one of 15 gives a mean of
 * 0.93, which says nothing against the harness — whereas a broken harness (a
 * wrong chat template, scorer or truncation) fails most of them. A quarter is
 * the line between the two: below it the misses are listed as a note; at or
 * above it the baseline is too weak to measure compression against, whatever
 * the cause, and that is worth the red warning.
 */
export const LOW_BASELINE_ALARM_SHARE = 0.25;

/** Whether a group's low-baseline cells reach LOW_BASELINE_ALARM_SHARE of its cells. */
export function lowBaselineAlarm(group: readonly Pick<ResultRow, 'flags'>[]): boolean {
  if (group.length === 0) return false;
  return group.filter((r) => r.flags.includes('low-baseline')).length / group.length >= LOW_BASELINE_ALARM_SHARE;
}
