// `outrigger proxy-status` and `outrigger version`: which injector runs in the
// cluster, and what every injected pod carries (the proxy image, the injector
// version in its status annotation) against the configuration the injector
// serves now, so pods left stale by an upgrade are listed with the command that
// re-creates them. Reading is I/O (readCluster); judging is pure (judgePods).
import {
  AdmissionregistrationV1Api,
  AppsV1Api,
  CoreV1Api,
  type V1Pod,
} from '@kubernetes/client-node';
import { loadKubeConfig } from '../certs/kube-api.ts';
import { parseConfig } from '../config/load.ts';
import { PROXY_CONTAINER_NAME, STATUS_ANNOTATION } from '../shared/contract.ts';
import { VERSION } from '../version.ts';
import { clusterCall } from './cluster-call.ts';
import { OUTRIGGER_ENTRY_SUFFIX } from './webhook-filters.ts';

export interface InjectorInCluster {
  /** namespace/name of the injector's Deployment (the webhook's Service name). */
  deployment: string;
  image?: string;
  version?: string;
  /** The proxy image the injector's configuration gives new pods. */
  proxyImage?: string;
}

export interface ProxyRow {
  namespace: string;
  pod: string;
  proxyImage: string;
  injectorVersion: string;
  /** Why the pod differs from what injection would give it now; empty when current. */
  stale: string[];
  /** The command that re-creates the pod with the current sidecar. */
  restart: string;
}

/** Every injected pod, judged against the injector that runs now. */
export function judgePods(pods: V1Pod[], injector: InjectorInCluster | undefined): ProxyRow[] {
  const rows: ProxyRow[] = [];
  for (const pod of pods) {
    const status = pod.metadata?.annotations?.[STATUS_ANNOTATION];
    if (status === undefined) continue;
    let injectorVersion = 'unknown';
    try {
      injectorVersion = String((JSON.parse(status) as { version?: unknown }).version ?? 'unknown');
    } catch {
      // An unreadable status: the version stays unknown, which is stale.
    }
    const proxy = [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])].find(
      (c) => c.name === PROXY_CONTAINER_NAME,
    );
    const proxyImage = proxy?.image ?? '(none)';
    const stale: string[] = [];
    if (injector?.version !== undefined && injectorVersion !== injector.version) {
      stale.push(`injected by ${injectorVersion}, the injector is ${injector.version}`);
    }
    if (injector?.proxyImage !== undefined && proxyImage !== injector.proxyImage) {
      stale.push(`proxy ${proxyImage}, new pods get ${injector.proxyImage}`);
    }
    const namespace = pod.metadata?.namespace ?? 'default';
    rows.push({
      namespace,
      pod: pod.metadata?.name ?? '',
      proxyImage,
      injectorVersion,
      stale,
      restart: restartCommand(pod, namespace),
    });
  }
  return rows;
}

/** `kubectl rollout restart` for what owns the pod; a pod of its own must be re-created by hand. */
function restartCommand(pod: V1Pod, namespace: string): string {
  const owner =
    pod.metadata?.ownerReferences?.find((o) => o.controller) ?? pod.metadata?.ownerReferences?.[0];
  const hash = pod.metadata?.labels?.['pod-template-hash'];
  if (owner?.kind === 'ReplicaSet' && hash && owner.name.endsWith(`-${hash}`)) {
    return `kubectl rollout restart deployment/${owner.name.slice(0, -hash.length - 1)} -n ${namespace}`;
  }
  if (owner?.kind === 'StatefulSet' || owner?.kind === 'DaemonSet') {
    return `kubectl rollout restart ${owner.kind.toLowerCase()}/${owner.name} -n ${namespace}`;
  }
  if (owner?.kind === 'Job') return `(a Job's pod: the next run gets the current sidecar)`;
  return `kubectl delete pod ${pod.metadata?.name} -n ${namespace} (then create it again)`;
}

export function formatProxyStatus(
  rows: ProxyRow[],
  injector: InjectorInCluster | undefined,
): string {
  const lines = [describeInjector(injector)];
  for (const row of rows) {
    lines.push(
      `${row.namespace}/${row.pod}: proxy ${row.proxyImage}, injector ${row.injectorVersion}: ${
        row.stale.length === 0 ? 'current' : `STALE (${row.stale.join('; ')})\n  ${row.restart}`
      }`,
    );
  }
  if (rows.length === 0) lines.push('no injected pods');
  return `${lines.join('\n')}\n`;
}

export function formatVersion(injector: InjectorInCluster | undefined, rows: ProxyRow[]): string {
  const counts = new Map<string, number>();
  for (const row of rows) {
    const key = `${row.proxyImage} (injector ${row.injectorVersion})`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return `${[
    `client: outrigger ${VERSION}`,
    describeInjector(injector),
    ...(counts.size === 0
      ? ['proxies: none found']
      : [...counts].map(([key, n]) => `proxy: ${key} in ${n} pod${n === 1 ? '' : 's'}`)),
  ].join('\n')}\n`;
}

function describeInjector(injector: InjectorInCluster | undefined): string {
  if (!injector) return 'injector: no Outrigger webhook configuration in the cluster';
  return `injector: ${injector.deployment} version ${injector.version ?? 'unknown'} (image ${injector.image ?? 'unknown'}; new pods get proxy ${injector.proxyImage ?? 'unknown'})`;
}

/** The injector behind Outrigger's webhook entries, and every pod (in one namespace, or all). */
export async function readCluster(options: {
  kubeconfig?: string;
  namespace?: string;
}): Promise<{ injector: InjectorInCluster | undefined; pods: V1Pod[] }> {
  const kubeconfig = loadKubeConfig(options.kubeconfig);
  const core = kubeconfig.makeApiClient(CoreV1Api);
  const apps = kubeconfig.makeApiClient(AppsV1Api);
  const admission = kubeconfig.makeApiClient(AdmissionregistrationV1Api);
  const call = clusterCall;
  const configurations = await call('list mutatingwebhookconfigurations', () =>
    admission.listMutatingWebhookConfiguration(),
  );
  const service = configurations.items
    .flatMap((c) => c.webhooks ?? [])
    .find((w) => w.name.endsWith(OUTRIGGER_ENTRY_SUFFIX))?.clientConfig.service;
  let injector: InjectorInCluster | undefined;
  if (service) {
    const where = { name: service.name, namespace: service.namespace };
    injector = { deployment: `${service.namespace}/${service.name}` };
    // The chart names the Deployment and the ConfigMap like the Service.
    const deployment = await apps.readNamespacedDeployment(where).catch(() => undefined);
    const container = deployment?.spec?.template?.spec?.containers?.[0];
    if (container?.image) injector.image = container.image;
    const version = deployment?.metadata?.labels?.['app.kubernetes.io/version'];
    if (version) injector.version = version;
    const configMap = await core.readNamespacedConfigMap(where).catch(() => undefined);
    const text = configMap?.data?.['config.yaml'];
    if (text !== undefined) {
      try {
        injector.proxyImage = parseConfig(text, 'configmap').proxy.image;
      } catch {
        // A configuration the injector refuses: it keeps its last good one, unknown here.
      }
    }
  }
  const pods = options.namespace
    ? await call(`list pods in ${options.namespace}`, () =>
        core.listNamespacedPod({ namespace: options.namespace as string }),
      )
    : await call('list pods', () => core.listPodForAllNamespaces());
  return { injector, pods: pods.items };
}
