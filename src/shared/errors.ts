// What every Outrigger error is, whichever program raises it. Each program
// keeps one table of its own (src/errors.ts for the injector and CLI,
// src/iptables/errors.ts, proxy/src/errors.ts) built with defineError, so every
// error it raises on purpose has a stable code for callers and tests, a reason
// for metric labels and logs, and an HTTP status only when it ends an HTTP
// exchange. Callers and tests match on `code`, never on message text.

export class OutriggerError extends Error {
  /** `OUTRIGGER_INVALID_ANNOTATION`: printed after the message, matched by callers and tests. */
  readonly code: string;
  /** `invalid_annotation`: the metric label value (docs/metrics.md) and log field. */
  readonly reason: string;
  /** The status the webhook answers with; only errors that can end an HTTP exchange have one. */
  readonly httpStatus: number | undefined;

  constructor(spec: ErrorSpec, message: string) {
    super(message);
    this.name = 'OutriggerError';
    this.code = spec.code;
    this.reason = spec.reason;
    this.httpStatus = spec.httpStatus;
  }
}

export interface ErrorSpec {
  readonly code: `OUTRIGGER_${string}`;
  readonly reason: string;
  readonly httpStatus?: number;
}

/** An entry's errors carry the entry's status in their type, so a caller can rely on it. */
export type ErrorFactory<S extends ErrorSpec, A extends unknown[]> = ((
  ...args: A
) => OutriggerError & { readonly httpStatus: S['httpStatus'] }) &
  S;

/** One entry of a program's error table: its code, reason, status, and message. */
export function defineError<const S extends ErrorSpec, A extends unknown[]>(
  spec: S,
  message: (...args: A) => string,
): ErrorFactory<S, A> {
  const make = (...args: A) =>
    new OutriggerError(spec, message(...args)) as OutriggerError & {
      readonly httpStatus: S['httpStatus'];
    };
  return Object.assign(make, spec);
}

export function isOutriggerError(err: unknown, factory?: { code: string }): err is OutriggerError {
  return err instanceof OutriggerError && (factory === undefined || err.code === factory.code);
}
