// Policy text → a checked Policy, or every problem found in it, each with its
// path. The proxy runs this on every change of the mounted file; `outrigger
// policy validate -f FILE` runs it offline, so both judge a document alike.
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { Value } from '@sinclair/typebox/value';
import { parse as parseYaml } from 'yaml';
import { parseCidr } from '../grammar/index.ts';
import { type Policy, PolicySchema, UPSTREAM_ADDRESS_PATTERN } from './schema.ts';

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
  const problems = [...checker.Errors(policy)].map(
    (e) =>
      `${e.path || '/'}: ${e.message}${e.value === undefined ? '' : ` (got ${short(e.value)})`}`,
  );
  if (problems.length > 0) return { ok: false, problems };
  problems.push(...semanticProblems(policy as Policy));
  return problems.length > 0 ? { ok: false, problems } : { ok: true, policy: policy as Policy };
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
      if (route.fault && route.fault.delay === undefined && route.fault.abort === undefined) {
        problems.push(`${routeAt}/fault: give a delay, an abort or both`);
      }
    });
  });
  return problems;
}

function short(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 80)}… (${text.length} characters)` : text;
}
