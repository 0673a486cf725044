// Command-line options whose values are read with the shared grammar
// (src/shared/grammar). A bad value is the coded OUTRIGGER_INVALID_FLAG naming
// the flag, printed by main.ts as one line like every other coded error, rather
// than commander's own message.
import { Option } from 'commander';
import { errors } from '../errors.ts';
import type { Grammar } from '../shared/grammar/index.ts';

/** `new Option(flags, description)` whose value goes through `grammar`. */
export function valueOption<T>(flags: string, description: string, grammar: Grammar<T>): Option {
  const option = new Option(flags, description);
  return option.argParser((value: string) => {
    const parsed = grammar(value);
    if (!parsed.ok) throw errors.INVALID_FLAG(option.long ?? flags, value, parsed.expected);
    return parsed.value;
  });
}
