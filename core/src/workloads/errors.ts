/**
 * Typed errors of the workload generators, in the style of core/src/errors.ts:
 * one clear sentence naming the workload and the setting, and a stable `code`.
 * Both are a bad setting or a bad input file, so the API answers E_INVALID.
 */
import { LabError } from '../errors.ts';

/** A workload cannot be generated as asked (a length below the template, missing texts, …). */
export class WorkloadError extends LabError {
  readonly apiCode = 'E_INVALID' as const;
  readonly code = 'E_WORKLOAD' as const;
  constructor(
    readonly workload: string,
    readonly detail: string,
  ) {
    super(`workload '${workload}': ${detail}`);
    this.name = 'WorkloadError';
  }
}

/** A line of a LongBench JSONL file is not a valid record. `line` is 1-based. */
export class LongBenchParseError extends LabError {
  readonly apiCode = 'E_INVALID' as const;
  readonly code = 'E_LONGBENCH_PARSE' as const;
  constructor(
    readonly line: number,
    readonly problem: string,
  ) {
    super(`LongBench JSONL line ${line}: ${problem}`);
    this.name = 'LongBenchParseError';
  }
}
