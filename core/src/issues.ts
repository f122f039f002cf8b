/**
 * Schema problems in the user's terms. zod's default messages are written for
 * programmers ("Invalid input: expected int, received number", "Too small:
 * expected array to have >=1 items"); people editing an experiment file or
 * calling the API see these instead: "seed: should be a whole number",
 * "budgets: needs at least one entry", "name: is missing (text)".
 * Messages the schemas set themselves (refinements, the registry's checks)
 * pass through unchanged.
 */
import type { z } from 'zod';
import { clipInput } from './errors.ts';

type Issue = z.core.$ZodIssue;

const NOUNS: Readonly<Record<string, string>> = {
  string: 'text',
  number: 'a number',
  int: 'a whole number',
  boolean: 'true or false',
  array: 'a list',
  object: 'an object {…}',
  null: 'null',
  undefined: 'nothing',
  NaN: 'NaN',
  Infinity: 'an infinite number',
  bigint: 'a big integer',
};
const noun = (t: string): string => NOUNS[t] ?? t;

/** "a.b.0.c", or `root` for the whole value. */
export function issuePath(path: readonly PropertyKey[], root = '(root)'): string {
  return path.length ? path.map((k) => clipInput(String(k), 40)).join('.') : root;
}

/** One problem as a phrase that follows its path: "is missing (text)", "must be at most 10". */
export function describeIssue(issue: Issue): string {
  switch (issue.code) {
    case 'invalid_type': {
      const received = /received (\S+)$/.exec(issue.message)?.[1];
      if (received === 'undefined') return `is missing (${noun(issue.expected)})`;
      return `should be ${noun(issue.expected)}${received ? `, not ${noun(received)}` : ''}`;
    }
    case 'too_small': {
      const min = Number(issue.minimum);
      if (issue.origin === 'string') return min <= 1 ? 'must not be empty' : `must be at least ${min} characters long`;
      if (issue.origin === 'array' || issue.origin === 'set') return min <= 1 ? 'needs at least one entry' : `needs at least ${min} entries`;
      return issue.inclusive ? `must be at least ${min}` : `must be more than ${min}`;
    }
    case 'too_big': {
      const max = Number(issue.maximum);
      if (issue.origin === 'string') return `is too long (at most ${max} characters)`;
      if (issue.origin === 'array' || issue.origin === 'set') return `has too many entries (at most ${max})`;
      return issue.inclusive ? `must be at most ${max}` : `must be less than ${max}`;
    }
    case 'invalid_value':
      return issue.values.length === 1
        ? `must be ${JSON.stringify(issue.values[0])}`
        : `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
    case 'unrecognized_keys': {
      const shown = issue.keys.slice(0, 5).map((k) => `"${clipInput(k, 40)}"`);
      const more = issue.keys.length > shown.length ? ` and ${issue.keys.length - shown.length} more` : '';
      return `has ${issue.keys.length === 1 ? 'an unknown field' : 'unknown fields'} ${shown.join(', ')}${more} (check the spelling)`;
    }
    case 'invalid_format':
      // A schema's own regex message names the form ('a branch, tag or commit'); zod's default does not.
      return issue.message.startsWith('Invalid') ? 'is not in the expected form' : `should be ${issue.message}`;
    default:
      return issue.message;
  }
}

/** Problems joined for a one-line message; past `max` of them, a count (a payload with 10,000 unknown keys is one message, not 10,000). */
export function joinIssues(lines: readonly string[], max = 8): string {
  return lines.length <= max ? lines.join('; ') : `${lines.slice(0, max).join('; ')}; and ${lines.length - max} more`;
}

/** Every problem as "path: phrase". */
export function describeIssues(issues: readonly Issue[], root?: string): string[] {
  return issues.map((i) => `${issuePath(i.path, root)}: ${describeIssue(i)}`);
}
