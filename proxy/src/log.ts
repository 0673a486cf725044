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

/**
 * A warning an attacker or a misconfiguration can repeat at line rate: the
 * first is written at once, then at most one per `intervalMs`, carrying how
 * many were suppressed in between.
 */
export function rateLimitedWarning(
  log: Logger,
  msg: string,
  intervalMs = 10_000,
): (fields?: Record<string, unknown>) => void {
  let last = -Infinity;
  let suppressed = 0;
  return (fields) => {
    const now = Date.now();
    if (now - last < intervalMs) {
      suppressed++;
      return;
    }
    last = now;
    log.warn(msg, suppressed > 0 ? { ...fields, suppressed } : fields);
    suppressed = 0;
  };
}
