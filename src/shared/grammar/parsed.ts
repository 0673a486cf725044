// The one convention every value parser follows: the value, or a sentence
// saying what was expected. Parsers never throw and never name the key or the
// flag: each program wraps a failure in its own coded error, which names where
// the value came from (an annotation, a config path, a flag, a variable).

export type Parsed<T> = { ok: true; value: T } | { ok: false; expected: string };

export const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
export const fail = <T>(expected: string): Parsed<T> => ({ ok: false, expected });

/** A parser for one kind of value. */
export type Grammar<T> = (text: string) => Parsed<T>;
