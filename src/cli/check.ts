// `outrigger check -f FILE`: explains, per pod template, whether the webhook
// would inject it and why, through the same injectPod the webhook runs (so a
// bad override annotation shows up here as it would at creation). Given the
// namespace's labels, it also says when the namespace's Pod Security level would
// refuse the injected pod, with the warnings the webhook gives.
import type { V1Pod, V1Probe } from '@kubernetes/client-node';
import type { Document } from 'yaml';
import type { InjectionConfig } from '../config/schema.ts';
import { isOutriggerError } from '../errors.ts';
import { injectPod } from '../inject/inject.ts';
import { enforcedLevel, explainPodSecurity } from '../inject/pod-security.ts';
import type { ProbeRewrite } from '../inject/probes.ts';
import { describeInject, describeSkip } from '../inject/reasons.ts';
import { NAMESPACE_INJECTION_LABEL } from '../shared/contract.ts';
import { fail, ok, type Parsed, splitList } from '../shared/grammar/index.ts';
import { findPodTemplates } from './manifests.ts';

export interface CheckResult {
  ref: string;
  namespace: string;
  inject: boolean;
  /** Set when creating the pod would be refused (a bad annotation or label, a port conflict). */
  refused?: true;
  reason: string;
  explanation: string;
  /** Where the namespace's labels came from: the flag, a Namespace document in the input, or assumed enabled. */
  namespaceLabelsFrom: 'flag' | 'document' | 'assumed' | 'cluster';
  /** The webhook's warnings for an injected pod (unknown keys, excluded proxy ports in use). */
  warnings?: string[];
  /** Set when the namespace's Pod Security level refuses the injected containers: the webhook's warnings. */
  podSecurity?: string[];
  /** Each app probe injection points at the proxy: `container field: original → new`. */
  rewrittenProbes?: string[];
  /** Live mode: what the apiserver's selectors and the injector make of the pod. */
  live?: LiveFindings;
}

/** What `outrigger check` finds in the cluster beside the decision (check-live.ts). */
export interface LiveFindings {
  /** `apiserver`: the webhook entries' selectors never send the pod; `injector`: they do, and it decides. */
  decidedBy: 'apiserver' | 'injector';
  /** The Outrigger entry that sends the pod, or why none does. */
  filter: string;
  /** Other mutating webhooks (configuration/entry) that the pod's creation goes through. */
  otherWebhooks: string[];
  /** For an existing pod: whether it runs injected now, and by which injector version. */
  current?: string;
}

export function checkDocuments(
  documents: Document[],
  config: InjectionConfig,
  options: {
    defaultNamespace: string;
    namespaceLabels: Record<string, string> | undefined;
    injectorNamespace?: string;
  },
): CheckResult[] {
  const results: CheckResult[] = [];
  const objects = documents.map((document) => document.toJS() as unknown);
  const namespaces = namespaceDocuments(objects);
  for (const object of objects) {
    for (const { ref, namespace, template } of findPodTemplates(object, options.defaultNamespace)) {
      const pod = {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: template.metadata,
        spec: template.spec,
      } as V1Pod;
      // The flag wins, then a Namespace document in the same input; without
      // either we check the pod as if its namespace were enabled, and say so.
      const fromDocument = namespaces.get(namespace);
      const namespaceLabelsFrom =
        options.namespaceLabels !== undefined
          ? 'flag'
          : fromDocument !== undefined
            ? 'document'
            : 'assumed';
      const namespaceLabels = options.namespaceLabels ??
        fromDocument ?? {
          [NAMESPACE_INJECTION_LABEL]: 'enabled',
          'kubernetes.io/metadata.name': namespace,
        };
      results.push(
        checkPod(ref, namespace, pod, config, {
          namespaceLabels,
          namespaceLabelsFrom,
          injectorNamespace: options.injectorNamespace,
        }),
      );
    }
  }
  return results;
}

/** One pod through injectPod, against the namespace labels given: what the webhook would answer. */
export function checkPod(
  ref: string,
  namespace: string,
  pod: V1Pod,
  config: InjectionConfig,
  options: {
    namespaceLabels: Record<string, string>;
    namespaceLabelsFrom: CheckResult['namespaceLabelsFrom'];
    injectorNamespace?: string;
  },
): CheckResult {
  const { namespaceLabels, namespaceLabelsFrom } = options;
  const level = enforcedLevel(namespaceLabels);
  try {
    const outcome = injectPod(
      pod,
      { namespace, namespaceLabels, injectorNamespace: options.injectorNamespace },
      config,
    );
    const { decision } = outcome;
    const podSecurity =
      outcome.injected && level ? explainPodSecurity(namespace, level, outcome.injection) : [];
    const rewrites = outcome.injected ? outcome.injection.probeRewrites : [];
    return {
      ...(rewrites.length > 0
        ? { rewrittenProbes: rewrites.map((r) => describeRewrite(pod, r)) }
        : {}),
      ref,
      namespace,
      inject: decision.inject,
      reason: decision.reason,
      namespaceLabelsFrom,
      ...(outcome.injected && outcome.warnings.length > 0 ? { warnings: outcome.warnings } : {}),
      explanation: decision.inject
        ? describeInject(decision.reason)
        : describeSkip(decision.reason),
      ...(podSecurity.length > 0 ? { podSecurity } : {}),
    };
  } catch (err) {
    if (!isOutriggerError(err)) throw err;
    return {
      ref,
      namespace,
      inject: false,
      refused: true,
      namespaceLabelsFrom,
      reason: err.code,
      explanation: `creation would be refused: ${err.message}`,
    };
  }
}

function namespaceDocuments(objects: unknown[]): Map<string, Record<string, string>> {
  const found = new Map<string, Record<string, string>>();
  for (const object of objects) {
    const { kind, metadata } = (object ?? {}) as {
      kind?: unknown;
      metadata?: { name?: unknown; labels?: Record<string, string> };
    };
    if (kind !== 'Namespace' || typeof metadata?.name !== 'string') continue;
    found.set(metadata.name, {
      ...(metadata.labels ?? {}),
      'kubernetes.io/metadata.name': metadata.name,
    });
  }
  return found;
}

/**
 * `outrigger check`'s exit status (docs/injection.md, "outrigger check"):
 * 0 every pod template would be injected, 3 one would be left uninjected,
 * 4 the creation of one would be refused (refusal wins). 1 is an error.
 */
export const CHECK_EXIT = { injected: 0, error: 1, notInjected: 3, refused: 4 } as const;

export function checkExitCode(results: CheckResult[]): number {
  if (results.some((r) => r.refused)) return CHECK_EXIT.refused;
  if (results.length === 0 || results.some((r) => !r.inject)) return CHECK_EXIT.notInjected;
  return CHECK_EXIT.injected;
}

function describeRewrite(pod: V1Pod, rewrite: ProbeRewrite): string {
  const container = pod.spec?.containers?.[rewrite.container];
  const original = container?.[rewrite.field];
  return `${container?.name} ${rewrite.field}: ${describeProbe(original)} → ${describeProbe(rewrite.probe)} (the proxy checks the app for the kubelet)`;
}

function describeProbe(probe: V1Probe | undefined): string {
  if (probe?.httpGet) {
    const { scheme, port, path } = probe.httpGet;
    return `httpGet ${(scheme ?? 'HTTP').toLowerCase()} :${port}${path ?? '/'}`;
  }
  if (probe?.tcpSocket) return `tcpSocket :${probe.tcpSocket.port}`;
  return 'none';
}

export function formatCheck(results: CheckResult[]): string {
  const assumedNamespaceLabels = results.some((r) => r.namespaceLabelsFrom === 'assumed');
  const lines = results.flatMap((r) => [
    `${r.ref} (namespace ${r.namespace}): ${r.inject ? 'would be injected' : 'would NOT be injected'} — ${r.explanation} [${r.reason}]`,
    ...(r.live
      ? [
          `  decided by: ${r.live.decidedBy === 'apiserver' ? 'the apiserver’s webhook selectors' : 'the injector'} (${r.live.filter})`,
          `  other mutating webhooks on pod creation: ${r.live.otherWebhooks.join(', ') || 'none'}`,
          ...(r.live.current ? [`  now: ${r.live.current}`] : []),
        ]
      : []),
    ...(r.warnings ?? []).map((warning) => `  warning: ${warning}`),
    // The webhook's own warnings, indented under the pod they are about.
    ...(r.podSecurity ?? []).map((warning) => `  ${warning}`),
    ...(r.rewrittenProbes ?? []).map((line) => `  probe ${line}`),
  ]);
  if (assumedNamespaceLabels) {
    lines.push(
      `(namespace labels not given: assumed ${NAMESPACE_INJECTION_LABEL}=enabled; pass --namespace-labels, or include the Namespace in the input, to check a real namespace)`,
    );
  }
  if (results.length === 0) lines.push('no pod templates found');
  return `${lines.join('\n')}\n`;
}

/** `k=v,k2=v2` → { k: 'v', k2: 'v2' }. */
export function parseLabelList(text: string): Parsed<Record<string, string>> {
  const labels: Record<string, string> = {};
  for (const item of splitList(text)) {
    const eq = item.indexOf('=');
    if (eq <= 0) return fail('expected key=value pairs separated by commas');
    labels[item.slice(0, eq)] = item.slice(eq + 1);
  }
  return ok(labels);
}
