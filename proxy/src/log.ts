// A small leveled JSON-lines logger on stderr. Access-log lines go to stdout
// separately, so the two streams never interleave.
import type { LogLevel } from './config.ts';

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  readonly debugEnabled: boolean;
}

export function createLogger(level: LogLevel, write: (line: string) => void = stderrLine): Logger {
  const threshold = RANK[level];
  const at =
    (name: Exclude<LogLevel, 'silent'>) =>
    (msg: string, fields?: Record<string, unknown>): void => {
      if (RANK[name] < threshold) return;
      write(JSON.stringify({ time: new Date().toISOString(), level: name, msg, ...fields }));
    };
  return {
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    debugEnabled: threshold <= RANK.debug,
  };
}

function stderrLine(line: string): void {
  process.stderr.write(`${line}\n`);
}
