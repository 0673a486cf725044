// What the apiserver does with a pod CREATE before any injector sees it: which
// mutating webhook entries' rules, namespaceSelector and objectSelector match.
// Pure, so `outrigger check` in live mode and the tests evaluate the same way.
import type {
  V1LabelSelector,
  V1MutatingWebhook,
  V1MutatingWebhookConfiguration,
} from '@kubernetes/client-node';
import type { LabelSelector } from '../config/schema.ts';
import { matchesLabelSelector } from '../inject/label-selector.ts';

/** Entries the Outrigger chart installs are named `[<level>.][optin.]inject.sidecar.outrigger.dev`. */
export const OUTRIGGER_ENTRY_SUFFIX = 'inject.sidecar.outrigger.dev';

export interface EntryRef {
  configuration: string;
  entry: V1MutatingWebhook;
}

/** Whether an entry's rules cover CREATE of core v1 pods. */
function coversPodCreate(entry: V1MutatingWebhook): boolean {
  return (entry.rules ?? []).some(
    (rule) =>
      (rule.apiGroups ?? []).some((g) => g === '' || g === '*') &&
      (rule.resources ?? []).some((r) => r === 'pods' || r === '*' || r === '*/*') &&
      (rule.operations ?? []).some((o) => o === 'CREATE' || o === '*'),
  );
}

/** An absent selector matches everything, as the apiserver reads it. */
const matches = (selector: V1LabelSelector | undefined, labels: Record<string, string>) =>
  matchesLabelSelector((selector ?? {}) as LabelSelector, labels);

/** Namespaces an entry names in a `kubernetes.io/metadata.name NotIn [...]` expression. */
export function excludedNamespaces(entry: V1MutatingWebhook): string[] {
  return (entry.namespaceSelector?.matchExpressions ?? [])
    .filter((e) => e.key === 'kubernetes.io/metadata.name' && e.operator === 'NotIn')
    .flatMap((e) => e.values ?? []);
}

export interface WebhookFilters {
  /** The Outrigger entry that receives the pod, if any (at most one by construction). */
  sentBy?: EntryRef;
  /** When no Outrigger entry sends it: which selector stops it, in a sentence. */
  stoppedBy?: { selector: 'namespaceSelector' | 'objectSelector' | 'none'; why: string };
  /** Every other mutating webhook entry the creation goes through. */
  others: EntryRef[];
}

export function evaluateWebhooks(
  configurations: V1MutatingWebhookConfiguration[],
  namespace: string,
  namespaceLabels: Record<string, string>,
  podLabels: Record<string, string>,
): WebhookFilters {
  const labels = { ...namespaceLabels, 'kubernetes.io/metadata.name': namespace };
  const ours: EntryRef[] = [];
  const others: EntryRef[] = [];
  for (const configuration of configurations) {
    for (const entry of configuration.webhooks ?? []) {
      if (!coversPodCreate(entry)) continue;
      const ref = { configuration: configuration.metadata?.name ?? '', entry };
      if (entry.name.endsWith(OUTRIGGER_ENTRY_SUFFIX)) ours.push(ref);
      else if (matches(entry.namespaceSelector, labels) && matches(entry.objectSelector, podLabels))
        others.push(ref);
    }
  }
  if (ours.length === 0) {
    return {
      stoppedBy: { selector: 'none', why: 'no Outrigger webhook configuration is installed' },
      others,
    };
  }
  const byNamespace = ours.filter(({ entry }) => matches(entry.namespaceSelector, labels));
  const sentBy = byNamespace.find(({ entry }) => matches(entry.objectSelector, podLabels));
  if (sentBy) return { sentBy, others };
  if (byNamespace.length === 0) {
    const excluded = ours.some(({ entry }) => excludedNamespaces(entry).includes(namespace));
    return {
      stoppedBy: {
        selector: 'namespaceSelector',
        why: excluded
          ? `namespace ${namespace} is excluded by the webhook configuration`
          : `the labels of namespace ${namespace} match no Outrigger entry's namespaceSelector`,
      },
      others,
    };
  }
  return {
    stoppedBy: {
      selector: 'objectSelector',
      why: `the pod's labels match the objectSelector of no Outrigger entry that selects namespace ${namespace}: ${byNamespace
        .map(({ entry }) => `${entry.name} wants ${JSON.stringify(entry.objectSelector ?? {})}`)
        .join('; ')}`,
    },
    others,
  };
}
