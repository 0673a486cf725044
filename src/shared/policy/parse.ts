// Policy text → a checked Policy, or every problem found in it, each with its
// path. The proxy runs this on every change of the mounted file; `outrigger
// policy validate -f FILE` runs it offline, so both judge a document alike.
import type { TObject, TSchema, TUnion } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { type ValueError, ValueErrorType } from '@sinclair/typebox/errors';
import { Value } from '@sinclair/typebox/value';
import { parse as parseYaml } from 'yaml';
import { parseCidr } from '../../config/values.ts';
import {
  durationMs,
  type Policy,
  PolicySchema,
  type TokenBucketSpec,
  UPSTREAM_ADDRESS_PATTERN,
} from './schema.ts';

/** The ConfigMap key the document is read from, and where the proxy finds it. */
export const POLICY_CONFIGMAP_KEY = 'policy.yaml';
export const POLICY_MOUNT_DIR = '/etc/outrigger/policy';
export const POLICY_FILE = `${POLICY_MOUNT_DIR}/${POLICY_CONFIGMAP_KEY}`;

export type PolicyParse = { ok: true; policy: Policy } | { ok: false; problems: string[] };

const checker = TypeCompiler.Compile(PolicySchema);

export function parsePolicy(text: string): PolicyParse {
  let document: unknown;
  try {
    document = parseYaml(text);
  } catch (err) {
    return { ok: false, problems: [`not valid YAML: ${(err as Error).message}`] };
  }
  if (typeof document !== 'object' || document === null || Array.isArray(document)) {
    return { ok: false, problems: ['expected a mapping at the top level'] };
  }
  const policy = Value.Default(PolicySchema, structuredClone(document));
  const problems = [...checker.Errors(policy)].map((error) => {
    const e = explained(error);
    return `${e.path || '/'}: ${e.message}${e.value === undefined ? '' : ` (got ${short(e.value)})`}`;
  });
  if (problems.length > 0) return { ok: false, problems };
  problems.push(...semanticProblems(policy as Policy));
  return problems.length > 0 ? { ok: false, problems } : { ok: true, policy: policy as Policy };
}

/**
 * TypeBox says "Expected union value" for any union that did not match. Say
 * instead which values a union of literals takes, and for a union of objects
 * (a string or header match) either the one variant the keys point to, with
 * its own error, or which keys choose a variant.
 */
function explained(e: ValueError): { path: string; message: string; value: unknown } {
  if (e.type !== ValueErrorType.Union) return e;
  const variants = (e.schema as TUnion).anyOf as TSchema[];
  if (variants.every((v) => 'const' in v)) {
    return { ...e, message: `expected one of ${variants.map((v) => v.const).join(', ')}` };
  }
  const value = e.value;
  if (!variants.every((v) => v.type === 'object') || typeof value !== 'object' || value === null) {
    return e;
  }
  const properties = variants.map((v) => Object.keys((v as TObject).properties));
  const common = properties[0]!.filter((k) => properties.every((keys) => keys.includes(k)));
  const choosing = properties.map((keys) => keys.filter((k) => !common.includes(k)));
  const given = Object.keys(value);
  const chosen = choosing.flatMap((keys, i) =>
    keys.length > 0 && keys.every((k) => given.includes(k)) ? [i] : [],
  );
  if (chosen.length === 1) {
    const inner = e.errors[chosen[0]!]?.First();
    if (inner !== undefined) return explained(inner);
  }
  const also = common.length > 0 ? `${common.join(', ')} and ` : '';
  return { ...e, message: `expected ${also}exactly one of ${choosing.flat().join(', ')}` };
}

/** What the schema alone cannot say. */
function semanticProblems(policy: Policy): string[] {
  const problems: string[] = [];
  policy.outbound.allow.forEach((entry, i) => {
    const at = `/outbound/allow/${i}`;
    if (entry.cidr === undefined && entry.host === undefined && entry.ports === undefined) {
      problems.push(`${at}: give at least one of cidr, host and ports`);
    }
    if (entry.cidr !== undefined) {
      const parsed = parseCidr(entry.cidr);
      if (!parsed.ok) problems.push(`${at}/cidr: ${parsed.expected} (got ${short(entry.cidr)})`);
    }
  });
  const listeners = new Set<string>();
  policy.listeners.forEach((listener, i) => {
    const at = `/listeners/${i}`;
    const key = `${listener.direction}/${listener.port}`;
    if (listeners.has(key)) problems.push(`${at}: ${key} is declared twice`);
    listeners.add(key);
    bucketProblems(listener.connectionRateLimit, `${at}/connectionRateLimit`, problems);
    if (listener.routes !== undefined && listener.protocol !== 'http') {
      problems.push(`${at}/routes: routes need protocol: http on this listener`);
    }
    const names = new Set<string>();
    listener.routes?.forEach((route, j) => {
      const routeAt = `${at}/routes/${j}`;
      if (names.has(route.name)) problems.push(`${routeAt}/name: ${route.name} is used twice`);
      names.add(route.name);
      if (route.to?.every((backend) => backend.weight === 0)) {
        problems.push(`${routeAt}/to: at least one weight must be above 0`);
      }
      route.to?.forEach((backend, k) => {
        const port = backend.address && UPSTREAM_ADDRESS_PATTERN.exec(backend.address)?.[5];
        if (port !== undefined && (Number(port) < 1 || Number(port) > 65535)) {
          problems.push(`${routeAt}/to/${k}/address: port must be 1-65535 (got ${port})`);
        }
      });
      bucketProblems(route.rateLimit, `${routeAt}/rateLimit`, problems);
      if (route.fault && route.fault.delay === undefined && route.fault.abort === undefined) {
        problems.push(`${routeAt}/fault: give a delay, an abort or both`);
      }
      for (const side of ['requestHeaders', 'responseHeaders'] as const) {
        const rewrite = route[side];
        const named = [
          ...(rewrite?.add ?? []).map((p) => p.name),
          ...(rewrite?.set ?? []).map((p) => p.name),
          ...(rewrite?.remove ?? []),
        ];
        for (const name of named) {
          if (UNREWRITABLE_HEADERS.includes(name.toLowerCase())) {
            problems.push(
              `${routeAt}/${side}: ${name} frames the message or belongs to one connection; it cannot be rewritten`,
            );
          }
        }
      }
    });
  });
  return problems;
}

/**
 * Fields a route may not add, set or remove: the proxy forwards bodies with
 * the framing they came with (Content-Length, Transfer-Encoding), and the
 * hop-by-hop fields (RFC 9110 §7.6.1) are the proxy's own on each connection.
 */
export const UNREWRITABLE_HEADERS = [
  'content-length',
  'transfer-encoding',
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'upgrade',
  'trailer',
];

/** A bucket that refills every 0 ms would never limit anything. */
function bucketProblems(bucket: TokenBucketSpec | undefined, at: string, problems: string[]): void {
  if (bucket !== undefined && durationMs(bucket.fillInterval) <= 0) {
    problems.push(`${at}/fillInterval: must be above 0 (got ${short(bucket.fillInterval)})`);
  }
}

function short(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 80)}… (${text.length} characters)` : text;
}
