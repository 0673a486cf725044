// The injector's structured JSON log (pino, as Fastify uses it). Lines are
// buffered and written in batches: at thousands of reviews a second a write
// per line costs more than the review itself. The buffer is flushed every
// second, so a quiet cluster still sees each admission promptly, and
// synchronously at exit, so nothing is lost on shutdown.
import pino, { type Logger, type LoggerOptions } from 'pino';

/**
 * The one log line shape both programs write (docs/metrics.md, "Logs"):
 * `time` as ISO 8601, `level` as a word, `msg`, then the fields. The proxy
 * writes the same keys (proxy/src/log.ts).
 */
export const LOG_SHAPE: LoggerOptions = {
  base: undefined,
  timestamp: pino.stdTimeFunctions.isoTime,
  formatters: { level: (label) => ({ level: label }) },
};

export interface WebhookLogger {
  logger: Logger;
  /** Writes out whatever is buffered; call before the process exits. */
  flush(): void;
}

export function createWebhookLogger(level: string): WebhookLogger {
  const destination = pino.destination({ dest: 1, sync: false, minLength: 8 * 1024 });
  const timer = setInterval(() => destination.flush(), 1000);
  timer.unref();
  const flush = () => {
    try {
      destination.flushSync();
    } catch {
      // Not ready yet (nothing written) or stdout already closed: nothing to save.
    }
  };
  process.once('exit', flush);
  return { logger: pino({ ...LOG_SHAPE, level }, destination), flush };
}
