// The metrics merge: when the injector pointed the app's prometheus.io/*
// annotations at the proxy (src/inject/metrics-merge.ts), each scrape of
// /stats/prometheus also fetches the app's own metrics over loopback and serves
// them after the proxy's. The app can only ever lose its own part: a refusal, a
// timeout, an error status, an oversized or malformed answer leave the proxy's
// metrics whole and count one outrigger_app_metrics_scrape_failures_total.
import type { AppMetrics } from '../../../src/shared/contract.ts';
import { fail, ok, type Parsed } from '../../../src/shared/grammar/parsed.ts';

// See admin-servers.ts: built-ins through getBuiltinModule load nothing extra.
const { request: httpRequest } = process.getBuiltinModule('node:http');

/** Well under Prometheus' default 10 s scrape timeout, so the proxy's own part is never late. */
export const APP_METRICS_TIMEOUT_MS = 2_000;
/** The most of the app's answer the proxy holds; a larger one is dropped whole. */
export const APP_METRICS_MAX_BYTES = 4 * 1024 * 1024;

/** Why a scrape went without the app's part: the reason label's values. */
export const APP_METRICS_FAILURES = [
  'refused',
  'timeout',
  'status',
  'content_type',
  'too_large',
  'invalid',
  'error',
] as const;
export type AppMetricsFailure = (typeof APP_METRICS_FAILURES)[number];

export type AppMetricsResult =
  | { ok: true; text: string }
  | { ok: false; reason: AppMetricsFailure };

/**
 * OUTRIGGER_APP_METRICS: `{"port":<1-65535>,"path":"/..."}`. Fails with a
 * sentence saying what was expected when the value is not that.
 */
export function parseAppMetrics(raw: string): Parsed<AppMetrics> {
  const expected = 'a JSON object {"port":<1-65535>,"path":"/<path>"}';
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return fail(expected);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return fail(expected);
  const { port, path, ...rest } = value as Record<string, unknown>;
  if (Object.keys(rest).length > 0)
    return fail(`${expected}, without ${Object.keys(rest).join(', ')}`);
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535)
    return fail(`${expected}: port must be a number from 1 to 65535`);
  if (typeof path !== 'string' || !/^\/[\x21-\x7e]*$/.test(path))
    return fail(`${expected}: path must start with / and hold no spaces`);
  return ok({ port, path });
}

export interface FetchLimits {
  timeoutMs: number;
  maxBytes: number;
}

/** GET the app's metrics from 127.0.0.1 in the classic text format, within the limits. */
export function fetchAppMetrics(
  target: AppMetrics,
  limits: FetchLimits = { timeoutMs: APP_METRICS_TIMEOUT_MS, maxBytes: APP_METRICS_MAX_BYTES },
): Promise<AppMetricsResult> {
  return new Promise((resolve) => {
    let settled = false;
    const finish = (result: AppMetricsResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      request.destroy();
      resolve(result);
    };
    const request = httpRequest(
      {
        host: '127.0.0.1',
        port: target.port,
        path: target.path,
        agent: false,
        headers: {
          // The classic format: OpenMetrics' `# EOF` and protobuf do not concatenate.
          accept: 'text/plain;version=0.0.4;q=1,*/*;q=0.1',
          'user-agent': 'outrigger-proxy',
        },
      },
      (response) => {
        const type = response.headers['content-type'];
        if (response.statusCode !== 200) return finish({ ok: false, reason: 'status' });
        if (type !== undefined && !/^text\/plain\b/i.test(type))
          return finish({ ok: false, reason: 'content_type' });
        const declared = Number(response.headers['content-length']);
        if (declared > limits.maxBytes) return finish({ ok: false, reason: 'too_large' });
        const chunks: Buffer[] = [];
        let size = 0;
        response.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > limits.maxBytes) finish({ ok: false, reason: 'too_large' });
          else chunks.push(chunk);
        });
        response.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          finish(isExposition(text) ? { ok: true, text } : { ok: false, reason: 'invalid' });
        });
        response.on('error', () => finish({ ok: false, reason: 'error' }));
      },
    );
    const timer = setTimeout(() => finish({ ok: false, reason: 'timeout' }), limits.timeoutMs);
    request.on('error', (err: NodeJS.ErrnoException) =>
      finish({ ok: false, reason: err.code === 'ECONNREFUSED' ? 'refused' : 'error' }),
    );
    request.end();
  });
}

// A line of the classic text format: blank, a comment (# HELP / # TYPE / other),
// or `name{labels} value [timestamp]`. Checked line by line so that an app that
// answers something else (an HTML error page with status 200) cannot make the
// whole scrape, the proxy's part included, unparseable for Prometheus.
const SAMPLE =
  /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{(?:[^"}]|"(?:[^"\\\n]|\\.)*")*\})?[ \t]+\S+([ \t]+-?\d+)?[ \t]*$/;
const COMMENT =
  /^#([ \t]+(HELP[ \t]+[a-zA-Z_:][a-zA-Z0-9_:]*([ \t].*)?|TYPE[ \t]+[a-zA-Z_:][a-zA-Z0-9_:]*[ \t]+(counter|gauge|histogram|summary|untyped)[ \t]*|(?!HELP\b|TYPE\b).*))?$/;

function isExposition(text: string): boolean {
  for (const line of text.split('\n')) {
    if (line === '' || SAMPLE.test(line) || COMMENT.test(line)) continue;
    return false;
  }
  return true;
}

// The sample names a family of each type writes, beside its own name.
const SUFFIXES = ['_total', '_bucket', '_sum', '_count', '_created', '_info'];

/**
 * The proxy's exposition followed by the app's, less the app's families that
 * share a name with one of the proxy's (two families of one name make the
 * whole scrape invalid; a Node app's process_* and nodejs_* are the usual
 * ones). Returns the merged text and the names of the families left out.
 */
export function mergeExpositions(
  own: string,
  ownFamilies: ReadonlySet<string>,
  app: string,
): { text: string; dropped: string[] } {
  const dropped = new Set<string>();
  const kept: string[] = [];
  let family = '';
  for (const line of app.split('\n')) {
    if (line === '') continue;
    const comment = /^#[ \t]+(?:HELP|TYPE)[ \t]+([a-zA-Z_:][a-zA-Z0-9_:]*)/.exec(line);
    let name: string;
    if (comment !== null) {
      family = comment[1] as string;
      name = family;
    } else if (line.startsWith('#')) {
      name = family;
    } else {
      const sample = (/^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line) as RegExpExecArray)[0];
      // A sample belongs to the family declared last when it is that family's, else to itself.
      name =
        sample === family || SUFFIXES.some((s) => sample === family + s)
          ? family
          : ownFamilyOf(sample, ownFamilies);
    }
    if (ownFamilies.has(name)) {
      dropped.add(name);
      continue;
    }
    kept.push(line);
  }
  const separator = own === '' || own.endsWith('\n') ? '' : '\n';
  const tail = kept.length === 0 ? '' : `${kept.join('\n')}\n`;
  return { text: `${own}${separator}${tail}`, dropped: [...dropped] };
}

/** An untyped sample named like one of the proxy's families' samples belongs to that family. */
function ownFamilyOf(sample: string, ownFamilies: ReadonlySet<string>): string {
  for (const suffix of SUFFIXES) {
    if (sample.endsWith(suffix) && ownFamilies.has(sample.slice(0, -suffix.length)))
      return sample.slice(0, -suffix.length);
  }
  return sample;
}
