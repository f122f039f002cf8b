/**
 * Parameter builders for method schemas, so every range error reads the same:
 *   "windowSize for 'snapkv' must be an integer in [1, 4096], got 0".
 * The builders are thin zod wrappers; ranges and descriptions end up in
 * `z.toJSONSchema(method.params)` for the UI pickers.
 */
import { z } from 'zod';

interface NumOpts<T> {
  readonly min: number;
  readonly max: number;
  readonly default: T;
  readonly description: string;
}

export function intParam(o: NumOpts<number>) {
  const error = `must be an integer in [${o.min}, ${o.max}]`;
  return z.number({ error }).int({ error }).min(o.min, { error }).max(o.max, { error }).default(o.default).describe(o.description);
}

/** A real number in [min, max]; `exclusiveMin/Max` for open ends like τ ∈ (0, 1). */
export function numParam(o: NumOpts<number> & { readonly exclusiveMin?: boolean; readonly exclusiveMax?: boolean }) {
  const lo = o.exclusiveMin ? '(' : '[';
  const hi = o.exclusiveMax ? ')' : ']';
  const error = `must be a number in ${lo}${o.min}, ${o.max}${hi}`;
  let s = z.number({ error });
  s = o.exclusiveMin ? s.gt(o.min, { error }) : s.gte(o.min, { error });
  s = o.exclusiveMax ? s.lt(o.max, { error }) : s.lte(o.max, { error });
  return s.default(o.default).describe(o.description);
}

export function enumParam<const T extends readonly [string, ...string[]]>(values: T, def: T[number], description: string) {
  return z
    .enum(values, { error: `must be one of ${values.map((v) => `'${v}'`).join(', ')}` })
    .default(def)
    .describe(description);
}

export function boolParam(def: boolean, description: string) {
  return z.boolean({ error: 'must be true or false' }).default(def).describe(description);
}

/** A method's parameter object: unknown keys are rejected (a typo must not silently fall back to a default). */
export function paramObject<S extends z.ZodRawShape>(shape: S) {
  return z.strictObject(shape, {
    error: (iss) => (iss.code === 'unrecognized_keys' ? `has no parameter ${iss.keys.map((k) => `'${k}'`).join(', ')}` : 'must be an object'),
  });
}
