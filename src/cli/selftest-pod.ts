// The throwaway pod `outrigger selftest` creates, and how it is judged: injected
// as the status annotation says, then Running and Ready with outrigger-init done
// and outrigger-proxy ready. Pure, so the judgement is tested on plain objects;
// selftest.ts does the API calls and the printing.
import type { V1Container, V1ContainerStatus, V1Pod } from '@kubernetes/client-node';
import type { InjectionStatus } from '../inject/render.ts';
import {
  INIT_CONTAINER_NAME,
  POD_INJECT_KEY,
  PROXY_CONTAINER_NAME,
  STATUS_ANNOTATION,
} from '../shared/contract.ts';

export const SELFTEST_APP_CONTAINER = 'app';
export const SELFTEST_APP_PORT = 8080;
export const SELFTEST_POD_PREFIX = 'outrigger-selftest-';

export interface SelftestPodOptions {
  namespace: string;
  /** Runs the app container (`outrigger selftest-app`), so nothing else must be pulled. */
  image: string;
  imagePullPolicy?: string;
  imagePullSecrets?: string[];
  timeoutSeconds: number;
}

export function selftestPod(options: SelftestPodOptions): V1Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      generateName: SELFTEST_POD_PREFIX,
      namespace: options.namespace,
      labels: {
        'app.kubernetes.io/name': 'outrigger-selftest',
        'app.kubernetes.io/part-of': 'outrigger',
        // Opted in by label, so the test holds whatever defaultInject and the
        // selectors in the injection config say: it proves the webhook path.
        [POD_INJECT_KEY]: 'true',
      },
    },
    spec: {
      restartPolicy: 'Never',
      terminationGracePeriodSeconds: 5,
      // A pod left behind by a killed selftest still stops on its own.
      activeDeadlineSeconds: options.timeoutSeconds + 60,
      automountServiceAccountToken: false,
      ...(options.imagePullSecrets?.length
        ? { imagePullSecrets: options.imagePullSecrets.map((name) => ({ name })) }
        : {}),
      securityContext: { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
      containers: [
        {
          name: SELFTEST_APP_CONTAINER,
          image: options.image,
          ...(options.imagePullPolicy ? { imagePullPolicy: options.imagePullPolicy } : {}),
          args: ['selftest-app', `--port=${SELFTEST_APP_PORT}`],
          ports: [{ name: 'http', containerPort: SELFTEST_APP_PORT, protocol: 'TCP' }],
          // Ready means the kubelet reached the app with the sidecar in the way.
          readinessProbe: {
            httpGet: { path: '/', port: SELFTEST_APP_PORT },
            periodSeconds: 1,
            failureThreshold: 3,
          },
          resources: { requests: { cpu: '10m', memory: '48Mi' }, limits: { memory: '128Mi' } },
          securityContext: {
            runAsUser: 65532,
            runAsGroup: 65532,
            allowPrivilegeEscalation: false,
            readOnlyRootFilesystem: true,
            capabilities: { drop: ['ALL'] },
          },
        },
      ],
    },
  };
}

/** What the webhook put into the pod, as read from the pod the apiserver stored. */
export interface InjectedShape {
  layout: 'native' | 'classic';
  status: InjectionStatus;
}

/**
 * Checks the created pod against the status annotation: both Outrigger
 * containers are there, in the layout the annotation names, and everything
 * it lists exists. Returns a problem sentence, or the shape when all holds.
 */
export function judgeInjection(pod: V1Pod): InjectedShape | { problem: string } {
  const raw = pod.metadata?.annotations?.[STATUS_ANNOTATION];
  const initContainers = pod.spec?.initContainers ?? [];
  const containers = pod.spec?.containers ?? [];
  const names = (list: V1Container[]) => list.map((c) => c.name);
  if (raw === undefined) {
    const present = [...names(initContainers), ...names(containers)];
    return {
      problem:
        `the pod was admitted without injection (no ${STATUS_ANNOTATION} annotation; containers: ${present.join(', ')}): ` +
        'is the webhook configuration installed, its caBundle written, and the namespace labelled outrigger-injection=enabled?',
    };
  }
  let status: InjectionStatus;
  try {
    status = JSON.parse(raw) as InjectionStatus;
  } catch {
    return { problem: `the ${STATUS_ANNOTATION} annotation is not JSON: ${raw}` };
  }
  const layout = status.layout;
  const lists = [status.initContainers, status.containers, status.volumes];
  if ((layout !== 'native' && layout !== 'classic') || !lists.every(Array.isArray))
    return { problem: `the ${STATUS_ANNOTATION} annotation lacks its layout or lists: ${raw}` };
  if (!names(initContainers).includes(INIT_CONTAINER_NAME))
    return { problem: `${INIT_CONTAINER_NAME} is not among the init containers` };
  const proxy =
    layout === 'native'
      ? initContainers.find((c) => c.name === PROXY_CONTAINER_NAME && c.restartPolicy === 'Always')
      : containers.find((c) => c.name === PROXY_CONTAINER_NAME);
  if (!proxy) {
    const where =
      layout === 'native' ? 'an init container with restartPolicy Always' : 'a container';
    return { problem: `the layout is ${layout}, but ${PROXY_CONTAINER_NAME} is not ${where}` };
  }
  const missing = [
    ...status.initContainers.filter((n) => !names(initContainers).includes(n)),
    ...status.containers.filter((n) => !names(containers).includes(n)),
    ...status.volumes.filter((n) => !(pod.spec?.volumes ?? []).some((v) => v.name === n)),
  ];
  if (missing.length > 0)
    return {
      problem: `the ${STATUS_ANNOTATION} annotation lists ${missing.join(', ')}, which the pod lacks`,
    };
  return { layout, status };
}

export type Readiness =
  | { state: 'ready'; summary: string }
  | { state: 'waiting'; summary: string }
  | { state: 'failed'; summary: string };

/**
 * Where the pod is on its way to Running and Ready, in one line for the log:
 * the phase, then each container's state, init containers first.
 */
export function judgeReadiness(pod: V1Pod): Readiness {
  const phase = pod.status?.phase ?? 'Pending';
  const statuses = [
    ...(pod.status?.initContainerStatuses ?? []),
    ...(pod.status?.containerStatuses ?? []),
  ];
  const scheduled = pod.status?.conditions?.find((c) => c.type === 'PodScheduled');
  const parts = statuses.map(describeContainer);
  if (statuses.length === 0) {
    parts.push(
      scheduled?.status === 'False'
        ? `not scheduled (${scheduled.reason ?? 'unknown'}${scheduled.message ? `: ${scheduled.message}` : ''})`
        : pod.spec?.nodeName
          ? `on node ${pod.spec.nodeName}, no container started yet`
          : 'not scheduled yet',
    );
  }
  const summary = `${phase}: ${parts.join('; ')}`;
  if (phase === 'Failed' || phase === 'Succeeded') return { state: 'failed', summary };
  const init = statuses.find((s) => s.name === INIT_CONTAINER_NAME);
  const initExit = init?.state?.terminated?.exitCode;
  if (initExit !== undefined && initExit !== 0) return { state: 'failed', summary };
  const ready = pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
  const proxy = statuses.find((s) => s.name === PROXY_CONTAINER_NAME);
  if (phase === 'Running' && ready && initExit === 0 && proxy?.ready && proxy.state?.running)
    return { state: 'ready', summary };
  return { state: 'waiting', summary };
}

function describeContainer(status: V1ContainerStatus): string {
  const { running, terminated, waiting } = status.state ?? {};
  if (terminated) {
    const reason = terminated.reason ? ` ${terminated.reason}` : '';
    const message = terminated.message ? `: ${terminated.message.trim()}` : '';
    return `${status.name} exited ${terminated.exitCode}${reason}${message}`;
  }
  if (running) return `${status.name} running${status.ready ? ', ready' : ', not ready'}`;
  if (waiting) {
    const message = waiting.message ? `: ${waiting.message}` : '';
    return `${status.name} waiting (${waiting.reason ?? 'unknown'}${message})`;
  }
  return `${status.name} not started`;
}
