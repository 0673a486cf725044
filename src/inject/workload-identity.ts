// Who a pod is, for the proxy's metric labels: the workload it belongs to and
// its app and version, read from the pod the apiserver sent. Pure.
import type { V1Pod } from '@kubernetes/client-node';

export interface WorkloadIdentity {
  workload: string;
  app: string;
  version: string;
}

// Kubernetes names are at most 253 characters; a label value at most 63.
const MAX_NAME = 253;

/**
 * The workload is the pod's controller, as Istio names it:
 *
 * | controller                             | workload                            |
 * |----------------------------------------|-------------------------------------|
 * | ReplicaSet with a `pod-template-hash`  | the ReplicaSet's name minus `-hash` (the Deployment) |
 * | Job named `<cronjob>-<digits>`         | the name minus `-<digits>` (the CronJob)             |
 * | any other controller                   | its name                            |
 * | none, in a manifest's workload         | that workload's name (`outrigger inject -f deploy.yaml`) |
 * | none                                   | the pod's name, or its generateName without the last `-` |
 *
 * App and version are the pod's `app.kubernetes.io/name` / `app` and
 * `app.kubernetes.io/version` / `version` labels, the first present.
 */
export function workloadIdentity(pod: V1Pod, enclosing?: string): WorkloadIdentity {
  const labels = pod.metadata?.labels ?? {};
  return {
    workload: workloadName(pod, labels, enclosing).slice(0, MAX_NAME),
    app: labels['app.kubernetes.io/name'] ?? labels.app ?? '',
    version: labels['app.kubernetes.io/version'] ?? labels.version ?? '',
  };
}

function workloadName(pod: V1Pod, labels: Record<string, string>, enclosing?: string): string {
  const owner = pod.metadata?.ownerReferences?.find((o) => o.controller) ?? undefined;
  if (owner !== undefined) {
    const hash = labels['pod-template-hash'];
    if (owner.kind === 'ReplicaSet' && hash !== undefined && owner.name.endsWith(`-${hash}`)) {
      return owner.name.slice(0, -(hash.length + 1));
    }
    if (owner.kind === 'Job') return owner.name.replace(/-\d{1,20}$/, '');
    return owner.name;
  }
  if (enclosing) return enclosing;
  const name = pod.metadata?.name;
  if (name) return name;
  return (pod.metadata?.generateName ?? '').replace(/-$/, '');
}
