// `outrigger check pod/NAME | deploy/NAME | -l SELECTOR [-n NS]`: the same
// decision as the offline check, on what the cluster holds: the pod (or the
// workload's template), its namespace's real labels, every
// MutatingWebhookConfiguration's selectors, and the injector's configuration
// from its ConfigMap. It says which filter decides: the apiserver's selectors
// (the pod never reaches the injector) or the injector itself.
import {
  AdmissionregistrationV1Api,
  AppsV1Api,
  BatchV1Api,
  CoreV1Api,
  type V1Pod,
  type V1PodTemplateSpec,
} from '@kubernetes/client-node';
import { loadKubeConfig } from '../certs/kube-api.ts';
import { defaultConfig, parseConfig } from '../config/load.ts';
import type { InjectionConfig } from '../config/schema.ts';
import { ConfigSource } from '../config/watch.ts';
import { errors } from '../errors.ts';
import { STATUS_ANNOTATION } from '../shared/contract.ts';
import { type CheckResult, checkPod } from './check.ts';
import { clusterCall } from './cluster-call.ts';
import { evaluateWebhooks } from './webhook-filters.ts';

export interface LiveCheckOptions {
  targets: string[];
  selector?: string;
  namespace: string;
  kubeconfig?: string;
  config?: string;
}

interface Target {
  ref: string;
  pod: V1Pod;
  /** An existing pod (not a workload's template): its current injection is reported. */
  existing: boolean;
}

const KINDS: Record<string, string> = {
  pod: 'pod',
  pods: 'pod',
  po: 'pod',
  deploy: 'deployment',
  deployment: 'deployment',
  deployments: 'deployment',
  sts: 'statefulset',
  statefulset: 'statefulset',
  statefulsets: 'statefulset',
  ds: 'daemonset',
  daemonset: 'daemonset',
  daemonsets: 'daemonset',
  job: 'job',
  jobs: 'job',
  cronjob: 'cronjob',
  cronjobs: 'cronjob',
  cj: 'cronjob',
};

export async function checkLive(options: LiveCheckOptions): Promise<CheckResult[]> {
  const kubeconfig = loadKubeConfig(options.kubeconfig);
  const core = kubeconfig.makeApiClient(CoreV1Api);
  const apps = kubeconfig.makeApiClient(AppsV1Api);
  const batch = kubeconfig.makeApiClient(BatchV1Api);
  const admission = kubeconfig.makeApiClient(AdmissionregistrationV1Api);
  const { namespace } = options;

  const targets: Target[] = [];
  for (const text of options.targets) {
    const [kindText = '', name, ...rest] = text.split('/');
    const kind = KINDS[kindText.toLowerCase()];
    if (!kind || !name || rest.length > 0) {
      throw errors.INVALID_FLAG(
        'TARGET',
        text,
        'expected pod/NAME, deploy/NAME, sts/NAME, ds/NAME, job/NAME or cronjob/NAME',
      );
    }
    const request = { name, namespace };
    const fromTemplate = (template: V1PodTemplateSpec | undefined): Target => ({
      ref: `${kind}/${name}`,
      pod: { apiVersion: 'v1', kind: 'Pod', metadata: template?.metadata, spec: template?.spec },
      existing: false,
    });
    const read = async () => {
      switch (kind) {
        case 'pod':
          return { ref: `pod/${name}`, pod: await core.readNamespacedPod(request), existing: true };
        case 'deployment':
          return fromTemplate((await apps.readNamespacedDeployment(request)).spec?.template);
        case 'statefulset':
          return fromTemplate((await apps.readNamespacedStatefulSet(request)).spec?.template);
        case 'daemonset':
          return fromTemplate((await apps.readNamespacedDaemonSet(request)).spec?.template);
        case 'job':
          return fromTemplate((await batch.readNamespacedJob(request)).spec?.template);
        default:
          return fromTemplate(
            (await batch.readNamespacedCronJob(request)).spec?.jobTemplate.spec?.template,
          );
      }
    };
    targets.push(await clusterCall(`read ${text} in namespace ${namespace}`, read));
  }
  if (options.selector !== undefined) {
    const list = await clusterCall(`list pods -l ${options.selector}`, () =>
      core.listNamespacedPod({ namespace, labelSelector: options.selector }),
    );
    for (const pod of list.items) {
      targets.push({ ref: `pod/${pod.metadata?.name}`, pod, existing: true });
    }
  }

  const namespaceObject = await clusterCall(`read namespace ${namespace}`, () =>
    core.readNamespace({ name: namespace }),
  );
  const namespaceLabels = {
    ...(namespaceObject.metadata?.labels ?? {}),
    'kubernetes.io/metadata.name': namespace,
  };
  const configurations = (
    await clusterCall('list mutatingwebhookconfigurations', () =>
      admission.listMutatingWebhookConfiguration(),
    )
  ).items;

  const configs = new Map<string, Promise<InjectionConfig>>();
  const configFor = (service: { namespace: string; name: string } | undefined) => {
    if (options.config !== undefined || service === undefined) {
      return options.config === undefined
        ? Promise.resolve(defaultConfig())
        : ConfigSource.load(options.config).then((source) => source.current);
    }
    const key = `${service.namespace}/${service.name}`;
    let config = configs.get(key);
    if (!config) {
      // The chart names the ConfigMap like the Service (templates/configmap.yaml).
      config = core
        .readNamespacedConfigMap(service)
        .then((map) => parseConfig(map.data?.['config.yaml'] ?? '', `configmap ${key}`))
        .catch(() => defaultConfig());
      configs.set(key, config);
    }
    return config;
  };

  const results: CheckResult[] = [];
  for (const { ref, pod, existing } of targets) {
    const podLabels = pod.metadata?.labels ?? {};
    const filters = evaluateWebhooks(configurations, namespace, namespaceLabels, podLabels);
    const others = filters.others.map(
      ({ configuration, entry }) => `${configuration}/${entry.name}`,
    );
    const current = existing ? describeCurrent(pod) : undefined;
    const service = filters.sentBy?.entry.clientConfig.service;
    const injectorNamespace = service?.namespace;
    const config = await configFor(
      service ? { namespace: service.namespace, name: service.name } : undefined,
    );
    // An existing pod is checked as it was submitted: without what injection added.
    const submitted = existing ? asSubmitted(pod) : pod;
    const result = checkPod(ref, namespace, submitted, config, {
      namespaceLabels,
      namespaceLabelsFrom: 'cluster',
      ...(injectorNamespace ? { injectorNamespace } : {}),
    });
    if (filters.sentBy) {
      results.push({
        ...result,
        live: {
          decidedBy: 'injector',
          filter: `sent by entry ${filters.sentBy.entry.name} of ${filters.sentBy.configuration}`,
          otherWebhooks: others,
          ...(current ? { current } : {}),
        },
      });
      continue;
    }
    const stopped = filters.stoppedBy ?? { selector: 'none' as const, why: '' };
    const reason =
      stopped.selector === 'objectSelector'
        ? 'excluded_by_object_selector'
        : stopped.selector === 'namespaceSelector'
          ? 'excluded_by_namespace_selector'
          : 'no_outrigger_webhook';
    results.push({
      ref,
      namespace,
      inject: false,
      reason,
      explanation: `the apiserver never sends it to the injector: ${stopped.why}`,
      namespaceLabelsFrom: 'cluster',
      live: {
        decidedBy: 'apiserver',
        filter: `${stopped.selector}; the injector alone would say: ${result.inject ? 'inject' : 'skip'} [${result.reason}]`,
        otherWebhooks: others,
        ...(current ? { current } : {}),
      },
    });
  }
  return results;
}

/** A stored pod as it was before injection, so decide and render see what the webhook saw. */
function asSubmitted(pod: V1Pod): V1Pod {
  const status = pod.metadata?.annotations?.[STATUS_ANNOTATION];
  if (status === undefined) return pod;
  const { [STATUS_ANNOTATION]: _, ...annotations } = pod.metadata?.annotations ?? {};
  let listed: { initContainers?: string[]; containers?: string[]; volumes?: string[] } = {};
  try {
    listed = JSON.parse(status);
  } catch {
    // A status that is not JSON: keep the pod as it is.
  }
  const drop = (names: string[] | undefined) => (item: { name: string }) =>
    !(names ?? []).includes(item.name);
  return {
    ...pod,
    metadata: { ...pod.metadata, annotations },
    spec: {
      ...pod.spec,
      containers: (pod.spec?.containers ?? []).filter(drop(listed.containers)),
      initContainers: (pod.spec?.initContainers ?? []).filter(drop(listed.initContainers)),
      volumes: (pod.spec?.volumes ?? []).filter(drop(listed.volumes)),
    },
  };
}

function describeCurrent(pod: V1Pod): string {
  const status = pod.metadata?.annotations?.[STATUS_ANNOTATION];
  if (status === undefined) return 'runs without the sidecar';
  try {
    const { version } = JSON.parse(status) as { version?: string };
    return `runs injected (injector version ${version ?? 'unknown'})`;
  } catch {
    return 'runs injected (unreadable status annotation)';
  }
}
