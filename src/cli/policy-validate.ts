// `outrigger policy validate -f FILE`: checks traffic policy documents offline
// with the parser the proxy runs on every change of its mounted file
// (src/shared/policy/parse.ts), so a document that passes here is one the
// proxy takes. A document is either a bare policy (kind TrafficPolicy) or a
// ConfigMap carrying one under policy.yaml, the way the injector mounts it;
// Lists are opened, and other kinds are passed over with a note.
import { parseAllDocuments } from 'yaml';
import { POLICY_CONFIGMAP_KEY, parsePolicy } from '../shared/policy/parse.ts';
import { POLICY_KIND, type Policy } from '../shared/policy/schema.ts';
import type { Input } from './read-input.ts';

/** One policy found in the input, and what the parser made of it. */
export interface PolicyReport {
  /** `web.yaml document 2` */
  where: string;
  /** `ConfigMap shop/web-policy` or `TrafficPolicy`. */
  what: string;
  /** Empty when the document is valid. */
  problems: string[];
  /** A one-line summary of a valid document. */
  summary?: string;
}

export interface PolicyValidation {
  reports: PolicyReport[];
  /** Documents passed over (other kinds, ConfigMaps without policy.yaml), for stderr. */
  notes: string[];
}

/**
 * `outrigger policy validate`'s exit status: 0 every policy found is valid,
 * 1 one is invalid or an input cannot be read, 3 the input holds no policy.
 */
export const POLICY_VALIDATE_EXIT = { valid: 0, invalid: 1, noPolicy: 3 } as const;

export function validatePolicyInputs(inputs: readonly Input[]): PolicyValidation {
  const reports: PolicyReport[] = [];
  const notes: string[] = [];
  for (const { source, text } of inputs) {
    const documents = parseAllDocuments(text);
    const list = Array.isArray(documents) ? documents : [documents];
    list.forEach((document, index) => {
      const where = list.length > 1 ? `${source} document ${index + 1}` : source;
      const [yamlError] = document.errors;
      if (yamlError) {
        reports.push({
          where,
          what: 'document',
          problems: [`not valid YAML: ${yamlError.message}`],
        });
        return;
      }
      const object: unknown = document.toJS();
      if (object === null || object === undefined) return; // an empty document, as after a trailing ---
      walk(object, where, reports, notes);
    });
  }
  return { reports, notes };
}

function walk(object: unknown, where: string, reports: PolicyReport[], notes: string[]): void {
  if (typeof object !== 'object' || object === null || Array.isArray(object)) {
    reports.push({ where, what: 'document', problems: ['expected a mapping at the top level'] });
    return;
  }
  const manifest = object as {
    kind?: unknown;
    metadata?: { name?: unknown; namespace?: unknown };
    data?: Record<string, unknown>;
    items?: unknown;
  };
  const kind = typeof manifest.kind === 'string' ? manifest.kind : undefined;
  if (kind === 'List') {
    const items = Array.isArray(manifest.items) ? manifest.items : [];
    items.forEach((item, i) => {
      walk(item, `${where} item ${i + 1}`, reports, notes);
    });
    return;
  }
  if (kind === 'ConfigMap') {
    const name = String(manifest.metadata?.name ?? '(unnamed)');
    const namespace = manifest.metadata?.namespace;
    const what = `ConfigMap ${typeof namespace === 'string' ? `${namespace}/` : ''}${name}`;
    const text = manifest.data?.[POLICY_CONFIGMAP_KEY];
    if (text === undefined) {
      notes.push(`${where}: ${what} has no ${POLICY_CONFIGMAP_KEY} key; passed over`);
      return;
    }
    if (typeof text !== 'string') {
      reports.push({ where, what, problems: [`data/${POLICY_CONFIGMAP_KEY}: expected a string`] });
      return;
    }
    reports.push(report(where, what, text));
    return;
  }
  // No kind at all is taken for a policy, so a missing apiVersion and kind are reported.
  if (kind !== undefined && kind !== POLICY_KIND) {
    notes.push(`${where}: a ${kind}, not a ${POLICY_KIND} or a ConfigMap; passed over`);
    return;
  }
  reports.push(checked(where, POLICY_KIND, object));
}

/**
 * What a pod's proxy would make of its policy ConfigMap (`outrigger check`):
 * `missing` and `no-key` hold the pod in ContainerCreating, since the volume is
 * not optional; `invalid` leaves the proxy without that policy.
 */
export type PolicyConfigMapState =
  | { state: 'valid'; summary: string }
  | { state: 'invalid'; problems: string[] }
  | { state: 'missing' | 'no-key' };

export function judgePolicyConfigMap(
  configMap: { data?: Record<string, string> } | undefined,
): PolicyConfigMapState {
  if (configMap === undefined) return { state: 'missing' };
  const text = configMap.data?.[POLICY_CONFIGMAP_KEY];
  if (text === undefined) return { state: 'no-key' };
  const parsed = parsePolicy(text);
  return parsed.ok
    ? { state: 'valid', summary: summarize(parsed.policy) }
    : { state: 'invalid', problems: parsed.problems };
}

/** A policy held as text (a ConfigMap's policy.yaml). */
function report(where: string, what: string, text: string): PolicyReport {
  const parsed = parsePolicy(text);
  return parsed.ok
    ? { where, what, problems: [], summary: summarize(parsed.policy) }
    : { where, what, problems: parsed.problems };
}

/** A policy that is itself the document: parsed again from its own JSON so the parser sees it whole. */
function checked(where: string, what: string, object: object): PolicyReport {
  return report(where, what, JSON.stringify(object));
}

function summarize(policy: Policy): string {
  const routes = policy.listeners.reduce((n, l) => n + (l.routes?.length ?? 0), 0);
  const count = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;
  return [
    `outbound ${policy.outbound.mode}`,
    ...(policy.outbound.mode === 'blockAll'
      ? [count(policy.outbound.allow.length, 'allow entry', 'allow entries')]
      : []),
    count(policy.listeners.length, 'listener', 'listeners'),
    count(routes, 'route', 'routes'),
  ].join(', ');
}

export function formatPolicyValidation(validation: PolicyValidation): {
  stdout: string;
  stderr: string;
  exitCode: number;
} {
  const stdout: string[] = [];
  const stderr = validation.notes.map((note) => `note: ${note}`);
  for (const { where, what, problems, summary } of validation.reports) {
    if (problems.length === 0) stdout.push(`${where}: ${what}: valid (${summary})`);
    else for (const problem of problems) stderr.push(`${where}: ${what}: ${problem}`);
  }
  const invalid = validation.reports.filter((r) => r.problems.length > 0).length;
  let exitCode: number = POLICY_VALIDATE_EXIT.valid;
  if (invalid > 0) {
    exitCode = POLICY_VALIDATE_EXIT.invalid;
    stderr.push(`${invalid} of ${validation.reports.length} policies invalid`);
  } else if (validation.reports.length === 0) {
    exitCode = POLICY_VALIDATE_EXIT.noPolicy;
    stderr.push(
      `no ${POLICY_KIND} and no ConfigMap with a ${POLICY_CONFIGMAP_KEY} key in the input`,
    );
  }
  const join = (lines: string[]) => (lines.length > 0 ? `${lines.join('\n')}\n` : '');
  return { stdout: join(stdout), stderr: join(stderr), exitCode };
}
