/**
 * Typed errors thrown by the algorithm core.
 *
 * Every error a user can trigger with a bad setting names the method and the
 * parameter (or the tensor) and says what was expected, e.g.
 *   "windowSize for 'snapkv' must be an integer in [1, 1024], got 0".
 * They extend LabError, which carries the API code every transport answers
 * (`apiCode`), and keep their own finer `code` for the CLI and the tests.
 */
import type { ApiErrorCode } from './api/contract.ts';

/**
 * The base of every error KV Lab throws on purpose (core, engine, runner,
 * reports). Each subclass states the API code it is answered with, so the host
 * maps errors to the API in one line (electron/host/errors.ts) and a new error
 * class cannot be forgotten there: `apiCode` is abstract, so a subclass that
 * does not name one does not compile.
 *
 * The field is `apiCode`, not `code`: most subclasses already had a finer,
 * stable `code` ('E_PARAM', ModelFileError's 'E_MODEL_UNSUPPORTED', …) that
 * tests and the API's `details.reason` rely on.
 *
 * These extend Error rather than RangeError/TypeError (as ParamError, WorkloadError
 * and a few others once did): a class has one base, and no caller catches
 * them by the built-in kind — they catch the class or LabError.
 */
export abstract class LabError extends Error {
  /** The contract's code this error is answered with (E_INVALID for a bad setting, E_MODEL for a bad model file, …). */
  abstract readonly apiCode: ApiErrorCode;
  /** What the API error carries besides the message (the file, the list of issues); none by default. */
  get apiDetails(): unknown {
    return undefined;
  }
}

/**
 * A user's text as an error message quotes it: in double quotes, control
 * characters escaped (a NUL shows as \u0000), and cut to `max` characters, so
 * a pasted novel in a budget field does not come back as a 70 kB message.
 */
export function quoteInput(text: string, max = 60): string {
  return `"${clipInput(text, max)}"`;
}

/** `text` cut to `max` characters (… marks a cut) with control characters and quotes escaped, for quoting inside a message. */
export function clipInput(text: string, max = 60): string {
  const cut = text.length > max ? `${text.slice(0, max)}…` : text;
  return JSON.stringify(cut).slice(1, -1);
}

export type KvErrorCode = 'E_PARAM' | 'E_SHAPE' | 'E_BUDGET' | 'E_UNKNOWN_METHOD' | 'E_MISSING_INPUT';

/** A method parameter is out of range or of the wrong type. */
export class ParamError extends LabError {
  readonly apiCode = 'E_INVALID' as const;
  readonly code = 'E_PARAM' as const;
  constructor(
    readonly method: string,
    readonly param: string,
    readonly detail: string,
  ) {
    super(`${param} for '${method}' ${detail}`);
    this.name = 'ParamError';
  }
}

/** A tensor or array has the wrong shape, length or contents (NaN). */
export class ShapeError extends LabError {
  readonly apiCode = 'E_INVALID' as const;
  readonly code = 'E_SHAPE' as const;
  constructor(
    readonly what: string,
    readonly detail: string,
  ) {
    super(`${what}: ${detail}`);
    this.name = 'ShapeError';
  }
}

/**
 * A budget cannot be met (below the protected minimum) or is malformed.
 * `method` is '' for a budget not yet tied to a method (parseBudget): the
 * message is then `detail` alone, a whole sentence about the user's text.
 */
export class BudgetError extends LabError {
  readonly apiCode = 'E_INVALID' as const;
  readonly code = 'E_BUDGET' as const;
  constructor(
    readonly method: string,
    readonly detail: string,
  ) {
    super(method ? `budget for '${method}': ${detail}` : detail);
    this.name = 'BudgetError';
  }
}

/** An id that is not in the registry. */
export class UnknownMethodError extends LabError {
  readonly apiCode = 'E_INVALID' as const;
  readonly code = 'E_UNKNOWN_METHOD' as const;
  constructor(
    readonly kind: 'scorer' | 'allocator' | 'headwise',
    readonly id: string,
    readonly known: readonly string[],
  ) {
    super(`unknown ${kind} '${clipInput(id)}'; known: ${known.join(', ')}`);
    this.name = 'UnknownMethodError';
  }
}

/** What to do about a missing input when the site has nothing more specific to say. */
const MISSING_INPUT_REMEDY =
  'Experiments and the playground collect what each method needs; code that calls the method directly must pass it in the observation.';

/**
 * A method needs an input (attention statistics, keys, …) the caller did not
 * provide. The message names the method, the input in words (with the field
 * in parentheses for those writing code) and what the user can do: `remedy`,
 * or by default where the input normally comes from.
 */
export class MissingInputError extends LabError {
  readonly apiCode = 'E_INVALID' as const;
  readonly code = 'E_MISSING_INPUT' as const;
  constructor(
    readonly method: string,
    readonly input: string,
    readonly remedy: string = MISSING_INPUT_REMEDY,
  ) {
    super(`'${method}' needs ${input}, which it was not given. ${remedy}`);
    this.name = 'MissingInputError';
  }
}

export type KvLabError = ParamError | ShapeError | BudgetError | UnknownMethodError | MissingInputError;
