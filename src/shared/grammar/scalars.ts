// Booleans, whole numbers, numeric ids and fixed choices.
import { fail, type Grammar, ok, type Parsed } from './parsed.ts';

export function parseBoolean(text: string): Parsed<boolean> {
  if (text === 'true') return ok(true);
  if (text === 'false') return ok(false);
  return fail('expected "true" or "false"');
}

/**
 * A whole number from `min` to `max` in plain decimal digits (no sign, no
 * exponent, no blanks), at most as many digits as `max` has.
 */
export function wholeNumber(min: number, max: number, unit = ''): Grammar<number> {
  const digits = new RegExp(`^[0-9]{1,${String(max).length}}$`);
  const expected = `expected a whole number${unit ? ` of ${unit}` : ''} from ${min} to ${max}`;
  return (text) => {
    const value = Number(text);
    return digits.test(text) && value >= min && value <= max ? ok(value) : fail(expected);
  };
}

/**
 * A positive decimal number, fractions and exponents allowed (`0.5`, `365`,
 * `1e+06`, as Helm renders a large number), no sign, no blanks.
 */
export function positiveNumber(unit = ''): Grammar<number> {
  const expected = `expected a positive number${unit ? ` of ${unit}` : ''}`;
  return (text) => {
    const value = Number(text);
    return /^([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$/.test(text) &&
      Number.isFinite(value) &&
      value > 0
      ? ok(value)
      : fail(expected);
  };
}

/** (uid_t)-1 means "no change" to the kernel, so it is not a real id. */
export const MAX_NUMERIC_ID = 4294967294;

/** A numeric uid or gid, 0 to 4294967294. */
export function parseNumericId(text: string): Parsed<number> {
  if (/^[0-9]{1,10}$/.test(text) && Number(text) <= MAX_NUMERIC_ID) return ok(Number(text));
  return fail(`expected a numeric id 0-${MAX_NUMERIC_ID}`);
}

/** One of a fixed set of words (log levels, layouts, formats). */
export function oneOf<const T extends string>(choices: readonly T[]): Grammar<T> {
  const expected = `expected one of ${choices.join(', ')}`;
  return (text) => ((choices as readonly string[]).includes(text) ? ok(text as T) : fail(expected));
}
