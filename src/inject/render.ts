// What injection adds to a pod: the init container, the proxy, their volumes
// and annotations, rendered from the configuration and the pod's overrides.
// Pure: no I/O, and the user's own containers are never touched.
import type { V1Container, V1EnvVar, V1Pod, V1Volume } from '@kubernetes/client-node';
import type { InjectionConfig, ResourceRequirements } from '../config/schema.ts';
import { parseCidrSelection, parsePortSelection, parseQuantity } from '../config/values.ts';
import {
  HEALTH_READY_PATH,
  INIT_CONTAINER_NAME,
  IPTABLES_FLAGS,
  PORTS,
  PROMETHEUS_PATH,
  PROXY_CONTAINER_NAME,
  PROXY_ENV,
  STATUS_ANNOTATION,
} from '../contract.ts';
import { errors } from '../errors.ts';
import { VERSION } from '../version.ts';
import { OVERRIDE_ANNOTATIONS, type Overrides } from './overrides.ts';

export const TMP_VOLUME = 'outrigger-tmp';
export const INIT_RUN_VOLUME = 'outrigger-init-run';
export const DEFAULT_CONTAINER_ANNOTATION = 'kubectl.kubernetes.io/default-container';

export type Layout = 'native' | 'classic';

/** Everything injection adds, in the order it is added. */
export interface Injection {
  layout: Layout;
  /** Go first in spec.initContainers, before the user's own. */
  initContainers: V1Container[];
  /** Go last in spec.containers (classic layout only). */
  containers: V1Container[];
  /** Go last in spec.volumes. */
  volumes: V1Volume[];
  /** Added to metadata.annotations; keys the user already set are left out. */
  annotations: Record<string, string>;
}

/** The JSON written to sidecar.outrigger.dev/status. */
export interface InjectionStatus {
  version: string;
  layout: Layout;
  initContainers: string[];
  containers: string[];
  volumes: string[];
}

export function renderInjection(
  pod: V1Pod,
  config: InjectionConfig,
  overrides: Overrides,
): Injection {
  const { layout, init, proxy, volumes, status } = sidecarParts(config, overrides);
  refuseNameConflicts(pod, [init, proxy], volumes);
  const initContainers = layout === 'native' ? [init, proxy] : [init];
  const containers = layout === 'native' ? [] : [proxy];

  const existing = pod.metadata?.annotations ?? {};
  const annotations: Record<string, string> = { [STATUS_ANNOTATION]: status };
  const firstUserContainer = pod.spec?.containers?.[0]?.name;
  if (firstUserContainer !== undefined && existing[DEFAULT_CONTAINER_ANNOTATION] === undefined) {
    annotations[DEFAULT_CONTAINER_ANNOTATION] = firstUserContainer;
  }
  // A pod that already declares how to scrape it keeps its own setting.
  if (config.prometheusScrape && existing['prometheus.io/scrape'] === undefined) {
    annotations['prometheus.io/scrape'] = 'true';
    annotations['prometheus.io/port'] = String(PORTS.prometheus);
    annotations['prometheus.io/path'] = PROMETHEUS_PATH;
  }
  return { layout, initContainers, containers, volumes, annotations };
}

/** What injection adds that depends on the configuration and the overrides only. */
interface SidecarParts {
  layout: Layout;
  init: V1Container;
  proxy: V1Container;
  volumes: V1Volume[];
  /** The sidecar.outrigger.dev/status value. */
  status: string;
}

// The same configuration and overrides always render the same containers, and
// nearly every pod asks for nothing special: render each pair once and share the
// result, frozen so no caller can change it for the next pod. A reloaded
// configuration is a new object, so it starts a cache of its own; the number of
// override sets kept per configuration is bounded.
const PARTS_PER_CONFIG = 256;
const partsCache = new WeakMap<InjectionConfig, Map<string, SidecarParts>>();

function sidecarParts(config: InjectionConfig, overrides: Overrides): SidecarParts {
  let byOverrides = partsCache.get(config);
  if (byOverrides === undefined) {
    byOverrides = new Map();
    partsCache.set(config, byOverrides);
  }
  const key = JSON.stringify(overrides);
  const cached = byOverrides.get(key);
  if (cached !== undefined) return cached;

  const layout: Layout = (overrides.nativeSidecar ?? config.nativeSidecars) ? 'native' : 'classic';
  const init = renderInitContainer(config, overrides);
  const proxy = renderSidecar(config, overrides, layout);
  const volumes: V1Volume[] = [
    { name: TMP_VOLUME, emptyDir: { medium: 'Memory', sizeLimit: '16Mi' } },
    { name: INIT_RUN_VOLUME, emptyDir: { medium: 'Memory', sizeLimit: '1Mi' } },
  ];
  const status: InjectionStatus = {
    version: VERSION,
    layout,
    initContainers: layout === 'native' ? [init.name, proxy.name] : [init.name],
    containers: layout === 'native' ? [] : [proxy.name],
    volumes: volumes.map((v) => v.name),
  };
  const parts = deepFreeze({ layout, init, proxy, volumes, status: JSON.stringify(status) });
  if (byOverrides.size < PARTS_PER_CONFIG) byOverrides.set(key, parts);
  return parts;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

/** The init container's args: istio-iptables' flags for the capture rules. */
export function renderIptablesArgs(config: InjectionConfig, overrides: Overrides): string[] {
  const i = config.interception;
  const list = (values: readonly (string | number)[]) => values.join(',');
  const selection = (value: '*' | readonly (string | number)[]) =>
    value === '*' ? '*' : list(value);
  // The configured lists were validated when the file was loaded; parsing them
  // again here gives the same normalized form (`8080, 9090` → `8080,9090`) an
  // annotation gets.
  const configInbound = parsePortSelection(i.includeInboundPorts);
  const configRanges = parseCidrSelection(i.includeOutboundIPRanges);
  const includeInbound =
    overrides.includeInboundPorts ?? (configInbound.ok ? configInbound.value : '*');
  const includeRanges =
    overrides.includeOutboundIPRanges ?? (configRanges.ok ? configRanges.value : '*');
  // biome-ignore format: flag/value pairs read best one pair per line
  const args = [
    IPTABLES_FLAGS.outboundPort, String(config.proxy.outboundPort),
    IPTABLES_FLAGS.inboundPort, String(config.proxy.inboundPort),
    IPTABLES_FLAGS.proxyUid, String(config.proxy.uid),
    IPTABLES_FLAGS.proxyGid, String(config.proxy.gid),
    IPTABLES_FLAGS.mode, 'REDIRECT',
    IPTABLES_FLAGS.includeInboundPorts, selection(includeInbound),
    IPTABLES_FLAGS.includeOutboundIPRanges, selection(includeRanges),
  ];
  const optional: Array<[string, readonly (string | number)[]]> = [
    [IPTABLES_FLAGS.excludeInboundPorts, overrides.excludeInboundPorts ?? i.excludeInboundPorts],
    [
      IPTABLES_FLAGS.excludeOutboundIPRanges,
      overrides.excludeOutboundIPRanges ?? i.excludeOutboundIPRanges,
    ],
    [IPTABLES_FLAGS.includeOutboundPorts, overrides.includeOutboundPorts ?? i.includeOutboundPorts],
    [IPTABLES_FLAGS.excludeOutboundPorts, overrides.excludeOutboundPorts ?? i.excludeOutboundPorts],
    [IPTABLES_FLAGS.excludeInterfaces, i.excludeInterfaces],
  ];
  for (const [flag, values] of optional) {
    if (values.length > 0) args.push(flag, list(values));
  }
  return args;
}

function renderInitContainer(config: InjectionConfig, overrides: Overrides): V1Container {
  return {
    name: INIT_CONTAINER_NAME,
    image: config.init.image,
    imagePullPolicy: config.init.imagePullPolicy,
    args: renderIptablesArgs(config, overrides),
    resources: config.init.resources,
    // iptables needs root and exactly NET_ADMIN + NET_RAW in the pod's network
    // namespace; nothing else, and no way to gain more.
    securityContext: {
      runAsUser: 0,
      runAsGroup: 0,
      runAsNonRoot: false,
      privileged: false,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { add: ['NET_ADMIN', 'NET_RAW'], drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    },
    // The legacy iptables backend takes its lock under /run: a small tmpfs keeps
    // the root filesystem read-only.
    volumeMounts: [{ name: INIT_RUN_VOLUME, mountPath: '/run' }],
    terminationMessagePolicy: 'FallbackToLogsOnError',
  };
}

export function renderSidecar(
  config: InjectionConfig,
  overrides: Overrides,
  layout: Layout,
): V1Container {
  const healthProbe = { httpGet: { path: HEALTH_READY_PATH, port: PORTS.health } };
  const container: V1Container = {
    name: PROXY_CONTAINER_NAME,
    image: overrides.proxyImage ?? config.proxy.image,
    imagePullPolicy: config.proxy.imagePullPolicy,
    env: renderProxyEnv(config, overrides),
    ports: [
      { name: 'http-prom', containerPort: PORTS.prometheus, protocol: 'TCP' },
      { name: 'http-health', containerPort: PORTS.health, protocol: 'TCP' },
    ],
    readinessProbe: { ...healthProbe, periodSeconds: 2, timeoutSeconds: 1, failureThreshold: 3 },
    // Native sidecars hold the app's containers until this succeeds, so the app
    // never starts with its traffic redirected to a proxy that is not listening.
    startupProbe: { ...healthProbe, periodSeconds: 1, timeoutSeconds: 1, failureThreshold: 600 },
    resources: renderProxyResources(config.proxy.resources, overrides),
    securityContext: {
      runAsUser: config.proxy.uid,
      runAsGroup: config.proxy.gid,
      runAsNonRoot: true,
      privileged: false,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    },
    volumeMounts: [{ name: TMP_VOLUME, mountPath: '/tmp' }],
    terminationMessagePolicy: 'FallbackToLogsOnError',
  };
  if (layout === 'native') container.restartPolicy = 'Always';
  return container;
}

function renderProxyEnv(config: InjectionConfig, overrides: Overrides): V1EnvVar[] {
  const field = (name: string, fieldPath: string): V1EnvVar => ({
    name,
    valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath } },
  });
  const env: V1EnvVar[] = [
    field(PROXY_ENV.podName, 'metadata.name'),
    field(PROXY_ENV.podNamespace, 'metadata.namespace'),
    field(PROXY_ENV.podIp, 'status.podIP'),
    field(PROXY_ENV.nodeName, 'spec.nodeName'),
    field(PROXY_ENV.serviceAccount, 'spec.serviceAccountName'),
    { name: PROXY_ENV.outboundPort, value: String(config.proxy.outboundPort) },
    { name: PROXY_ENV.inboundPort, value: String(config.proxy.inboundPort) },
    { name: PROXY_ENV.adminPort, value: String(PORTS.admin) },
    { name: PROXY_ENV.healthPort, value: String(PORTS.health) },
    { name: PROXY_ENV.prometheusPort, value: String(PORTS.prometheus) },
    { name: PROXY_ENV.logLevel, value: overrides.logLevel ?? config.proxy.logLevel },
    { name: PROXY_ENV.accessLog, value: String(overrides.accessLog ?? config.proxy.accessLog) },
    { name: PROXY_ENV.drainTimeoutMs, value: String(config.proxy.drainTimeoutSeconds * 1000) },
    { name: PROXY_ENV.proxyUid, value: String(config.proxy.uid) },
  ];
  if (overrides.forwardPodIdentity) env.push({ name: PROXY_ENV.forwardPodIdentity, value: 'true' });
  const headers = (pairs: Array<[string, string]>) =>
    pairs.map(([n, v]) => `${n}: ${v}`).join('\n');
  if (overrides.addRequestHeaders?.length) {
    env.push({ name: PROXY_ENV.addRequestHeaders, value: headers(overrides.addRequestHeaders) });
  }
  if (overrides.addResponseHeaders?.length) {
    env.push({ name: PROXY_ENV.addResponseHeaders, value: headers(overrides.addResponseHeaders) });
  }
  return env;
}

/**
 * Config resources with the four resource annotations laid over them. A request
 * above its limit would be refused by the apiserver with a message about the
 * container; refusing here names the annotation instead.
 */
function renderProxyResources(
  base: ResourceRequirements,
  overrides: Overrides,
): ResourceRequirements {
  const requests = { ...base.requests };
  const limits = { ...base.limits };
  if (overrides.proxyCPU !== undefined) requests.cpu = overrides.proxyCPU;
  if (overrides.proxyMemory !== undefined) requests.memory = overrides.proxyMemory;
  if (overrides.proxyCPULimit !== undefined) limits.cpu = overrides.proxyCPULimit;
  if (overrides.proxyMemoryLimit !== undefined) limits.memory = overrides.proxyMemoryLimit;
  const pairs = [
    ['cpu', 'proxyCPU', 'proxyCPULimit'],
    ['memory', 'proxyMemory', 'proxyMemoryLimit'],
  ] as const;
  for (const [resource, requestField, limitField] of pairs) {
    const request = requests[resource];
    const limit = limits[resource];
    if (request === undefined || limit === undefined) continue;
    const r = parseQuantity(request);
    const l = parseQuantity(limit);
    if (r.ok && l.ok && r.value > l.value) {
      const field = overrides[requestField] !== undefined ? requestField : limitField;
      const [key] = OVERRIDE_ANNOTATIONS[field];
      throw errors.INVALID_ANNOTATION(
        key,
        overrides[field] ?? '',
        `the proxy's ${resource} request (${request}) would exceed its limit (${limit})`,
      );
    }
  }
  const resources: ResourceRequirements = {};
  if (Object.keys(requests).length > 0) resources.requests = requests;
  if (Object.keys(limits).length > 0) resources.limits = limits;
  return resources;
}

function refuseNameConflicts(pod: V1Pod, containers: V1Container[], volumes: V1Volume[]): void {
  const userContainers = new Set(
    [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? [])].map((c) => c.name),
  );
  for (const c of containers)
    if (userContainers.has(c.name)) throw errors.NAME_CONFLICT('container', c.name);
  const userVolumes = new Set((pod.spec?.volumes ?? []).map((v) => v.name));
  for (const v of volumes)
    if (userVolumes.has(v.name)) throw errors.NAME_CONFLICT('volume', v.name);
}

/**
 * The pod as it should look after injection, built directly (not through the
 * patch), so tests can check that applying the patch gives exactly this.
 */
export function renderPod(pod: V1Pod, injection: Injection): V1Pod {
  const result = structuredClone(pod);
  const spec = result.spec ?? { containers: [] };
  if (injection.initContainers.length > 0) {
    spec.initContainers = [...injection.initContainers, ...(spec.initContainers ?? [])];
  }
  if (injection.containers.length > 0)
    spec.containers = [...spec.containers, ...injection.containers];
  if (injection.volumes.length > 0) spec.volumes = [...(spec.volumes ?? []), ...injection.volumes];
  result.spec = spec;
  result.metadata = {
    ...result.metadata,
    annotations: { ...result.metadata?.annotations, ...injection.annotations },
  };
  return result;
}
