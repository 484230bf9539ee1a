import { config, type core } from 'zod/mini';
import { en } from 'zod/v4/locales';
import type { ErrorDetail } from './errors';

/*
 * zod/mini (a fraction of classic zod's size and load time, which matters at
 * every Lambda cold start) ships without messages. The common issues get
 * rolegate's own wording below, which reads after the field's name in an
 * error's details ("reason is required", "limit must be at most 100");
 * anything rarer falls back to zod's English locale.
 *
 * `en` is imported by name from the locales entry point: the bundler then
 * keeps only English (zod/mini's `locales.en` keeps all ~60 locales), and it
 * resolves to the same ES-module core as zod/mini (a deep import of
 * 'zod/v4/locales/en.cjs' added a second, CommonJS copy of zod's core).
 * Schemas that give a message of their own keep it.
 */

const TYPE_NAMES: Record<string, string> = {
  int: 'a whole number',
  array: 'a list',
  object: 'an object',
  record: 'a map of names to values',
  undefined: 'nothing',
  null: 'null',
};

const typeName = (t: string): string => TYPE_NAMES[t] ?? `a ${t}`;

/** What a JSON (or YAML) value is, in the words of the messages. */
function describe(input: unknown): string {
  if (input === null) return 'null';
  if (Array.isArray(input)) return 'a list';
  return typeName(typeof input);
}

const show = (v: unknown): string => (typeof v === 'string' ? v : JSON.stringify(v) ?? String(v));

function bound(size: 'at least' | 'at most', limit: number | bigint, inclusive: boolean | undefined, origin: string): string {
  const strict = size === 'at least' ? 'more than' : 'less than';
  const words = inclusive === false ? strict : size;
  if (origin === 'string') return `must be ${words} ${limit} characters`;
  if (origin === 'array' || origin === 'set') return `must hold ${words} ${limit} item${Number(limit) === 1 ? '' : 's'}`;
  return `must be ${words} ${limit}`;
}

/** rolegate's wording of the common issues; undefined leaves an issue to the locale. */
function rolegateMessage(issue: core.$ZodRawIssue): string | undefined {
  switch (issue.code) {
    case 'invalid_type':
      if (issue.input === undefined) return 'is required';
      // NaN and ±Infinity are numbers to JavaScript: a query's "abc" coerces to NaN, JSON's 1e999 parses as Infinity.
      if (typeof issue.input === 'number' && Number.isNaN(issue.input)) return 'must be a number';
      if (typeof issue.input === 'number' && !Number.isFinite(issue.input)) return 'must be a finite number';
      if (issue.expected === 'int' && typeof issue.input === 'number') return 'must be a whole number';
      return `must be ${typeName(issue.expected)}, not ${describe(issue.input)}`;
    case 'invalid_value':
      return issue.values.length === 1 ? `must be ${show(issue.values[0])}` : `must be one of: ${issue.values.map(show).join(', ')}`;
    case 'too_small':
      if ((issue.origin === 'string' || issue.origin === 'array') && Number(issue.minimum) === 1 && issue.inclusive !== false) return 'must not be empty';
      return bound('at least', issue.minimum, issue.inclusive, issue.origin);
    case 'too_big':
      return bound('at most', issue.maximum, issue.inclusive, issue.origin);
    case 'invalid_key':
      // A record's key refused by its own schema: that schema's message names what a key must be.
      return issue.issues[0]?.message ?? 'is not an allowed name';
    default:
      return undefined;
  }
}

config({ ...en(), customError: rolegateMessage });

/** Turns zod issues into details that name the bad field by its path and say why. */
export function issuesToDetails(issues: readonly core.$ZodIssue[]): ErrorDetail[] {
  return issues.flatMap((issue) => {
    const path = issue.path.map(String).join('.');
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((k) => ({ field: path ? `${path}.${k}` : k, reason: 'is not a known field' }));
    }
    return [{ field: path || '(root)', reason: issue.message }];
  });
}
