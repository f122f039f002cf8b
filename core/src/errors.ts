/**
 * Typed errors thrown by the algorithm core.
 *
 * Every error a user can trigger with a bad setting names the method and the
 * parameter (or the tensor) and says what was expected, e.g.
 *   "windowSize for 'snapkv' must be an integer in [1, 1024], got 0".
 * They extend RangeError/TypeError so generic callers can still catch them by
 * kind, and carry a stable `code` for the UI and the CLI.
 */

export type KvErrorCode = 'E_PARAM' | 'E_SHAPE' | 'E_BUDGET' | 'E_UNKNOWN_METHOD' | 'E_MISSING_INPUT';

/** A method parameter is out of range or of the wrong type. */
export class ParamError extends RangeError {
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
export class ShapeError extends RangeError {
  readonly code = 'E_SHAPE' as const;
  constructor(
    readonly what: string,
    readonly detail: string,
  ) {
    super(`${what}: ${detail}`);
    this.name = 'ShapeError';
  }
}

/** A budget cannot be met (below the protected minimum) or is malformed. */
export class BudgetError extends RangeError {
  readonly code = 'E_BUDGET' as const;
  constructor(
    readonly method: string,
    readonly detail: string,
  ) {
    super(`budget for '${method}': ${detail}`);
    this.name = 'BudgetError';
  }
}

/** An id that is not in the registry. */
export class UnknownMethodError extends TypeError {
  readonly code = 'E_UNKNOWN_METHOD' as const;
  constructor(
    readonly kind: 'scorer' | 'allocator' | 'headwise',
    readonly id: string,
    readonly known: readonly string[],
  ) {
    super(`unknown ${kind} '${id}'; known: ${known.join(', ')}`);
    this.name = 'UnknownMethodError';
  }
}

/** A method needs an input (attention statistics, keys, …) the caller did not provide. */
export class MissingInputError extends TypeError {
  readonly code = 'E_MISSING_INPUT' as const;
  constructor(
    readonly method: string,
    readonly input: string,
  ) {
    super(`'${method}' needs ${input}, which the observation does not contain`);
    this.name = 'MissingInputError';
  }
}

export type KvLabError = ParamError | ShapeError | BudgetError | UnknownMethodError | MissingInputError;
