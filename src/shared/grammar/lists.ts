// Lists as every program takes them: items separated by commas (or newlines,
// so a YAML block scalar works too), blanks around and between items dropped.
import { quoteValue } from '../echo.ts';
import { type Grammar, ok, type Parsed } from './parsed.ts';

/** Splits a comma (or newline) separated list, dropping blanks around items. */
export function splitList(text: string): string[] {
  return text
    .split(/[,\n]/)
    .map((item) => item.trim())
    .filter((item) => item !== '');
}

/**
 * Every item of a list through `item`; an empty string is an empty list. A bad
 * item fails the list, naming the item: `"x" is not a <noun>: <what>`.
 */
export function parseListOf<T>(
  text: string,
  item: Grammar<T>,
  noun: string,
  what: (expected: string) => string,
): Parsed<T[]> {
  const values: T[] = [];
  for (const raw of splitList(text)) {
    const parsed = item(raw);
    if (!parsed.ok)
      return { ok: false, expected: `${quoteValue(raw)} is not ${noun}: ${what(parsed.expected)}` };
    values.push(parsed.value);
  }
  return ok(values);
}

/** `*` (everything) or a list; an empty string selects nothing. */
export function parseSelection<T>(text: string, list: Grammar<T[]>): Parsed<'*' | T[]> {
  if (text.trim() === '*') return ok('*');
  return list(text);
}
