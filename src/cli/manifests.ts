// Finding pod templates in Kubernetes manifests, for `outrigger inject` and
// `outrigger check`: a Pod is its own template; workloads carry one at a
// well-known path; a List holds more objects; anything else has none.
import type { V1ObjectMeta, V1PodSpec } from '@kubernetes/client-node';

/** The part of an object that injection reads and patches. */
export interface PodTemplate {
  metadata?: V1ObjectMeta;
  spec?: V1PodSpec;
}

export interface FoundTemplate {
  /** `deployment/web`, `pod/debug`, for messages. */
  ref: string;
  namespace: string;
  template: PodTemplate;
  /** Where the template sits in the object: keys and List indexes (`outrigger inject` edits it there). */
  path: Array<string | number>;
  /** The name of the Deployment, StatefulSet, Job… that holds the template; undefined for a Pod. */
  workload?: string;
}

type Manifest = Record<string, unknown> & {
  kind?: unknown;
  metadata?: V1ObjectMeta;
  spec?: Record<string, unknown>;
};

const TEMPLATE_PATHS: Record<string, readonly string[]> = {
  Deployment: ['spec', 'template'],
  StatefulSet: ['spec', 'template'],
  DaemonSet: ['spec', 'template'],
  ReplicaSet: ['spec', 'template'],
  ReplicationController: ['spec', 'template'],
  Job: ['spec', 'template'],
  CronJob: ['spec', 'jobTemplate', 'spec', 'template'],
};

/** Every pod template in the object, in document order (a List may hold several). */
export function findPodTemplates(
  object: unknown,
  defaultNamespace: string,
  at: Array<string | number> = [],
): FoundTemplate[] {
  if (typeof object !== 'object' || object === null) return [];
  const manifest = object as Manifest;
  const kind = typeof manifest.kind === 'string' ? manifest.kind : '';
  const namespace = manifest.metadata?.namespace ?? defaultNamespace;
  const ref = `${kind.toLowerCase()}/${manifest.metadata?.name ?? manifest.metadata?.generateName ?? '(unnamed)'}`;
  if (kind === 'List' || kind.endsWith('List')) {
    const items = Array.isArray(manifest.items) ? manifest.items : [];
    return items.flatMap((item, index) =>
      findPodTemplates(item, defaultNamespace, [...at, 'items', index]),
    );
  }
  if (kind === 'Pod') return [{ ref, namespace, template: manifest as PodTemplate, path: at }];
  const path = TEMPLATE_PATHS[kind];
  if (path === undefined) return [];
  let node: unknown = manifest;
  for (const key of path) {
    if (typeof node !== 'object' || node === null) return [];
    node = (node as Record<string, unknown>)[key];
  }
  if (typeof node !== 'object' || node === null) return [];
  const workload = manifest.metadata?.name ?? manifest.metadata?.generateName?.replace(/-$/, '');
  return [{ ref, namespace, template: node as PodTemplate, path: [...at, ...path], workload }];
}
