// What injection adds to a pod: the init container, the proxy, their volumes
// and annotations, rendered from the configuration and the pod's overrides.
// Pure: no I/O. The user's own containers are touched in one place only: their
// httpGet/tcpSocket probes of captured ports are pointed at the proxy (probes.ts).
import type { V1Container, V1EnvVar, V1Pod, V1Probe, V1Volume } from '@kubernetes/client-node';
import type { InjectionConfig } from '../config/schema.ts';
import { errors } from '../errors.ts';
import {
  HEALTH_READY_PATH,
  INIT_CONTAINER_NAME,
  IPTABLES_FLAGS,
  type Layout,
  ORIGINAL_ANNOTATIONS_ANNOTATION,
  ORIGINAL_PROBES_ANNOTATION,
  PORTS,
  PROXY_CONTAINER_NAME,
  PROXY_ENV,
  STATUS_ANNOTATION,
} from '../shared/contract.ts';
import { VERSION } from '../version.ts';
import { scrapeAnnotations } from './metrics-merge.ts';
import { type Overrides, proxyResources } from './overrides.ts';
import { type ProbeField, type ProbeRewrite, rewriteAppProbes } from './probes.ts';
import { workloadIdentity } from './workload-identity.ts';

export const TMP_VOLUME = 'outrigger-tmp';
export const INIT_RUN_VOLUME = 'outrigger-init-run';
export const DEFAULT_CONTAINER_ANNOTATION = 'kubectl.kubernetes.io/default-container';

export type { Layout };

/** What Kubernetes uses when a pod sets no spec.terminationGracePeriodSeconds. */
export const DEFAULT_GRACE_PERIOD_SECONDS = 30;

/**
 * How long the proxy may drain after SIGTERM (docs/proxy.md, "Shutdown").
 *
 * - classic: SIGTERM reaches the app and the proxy together and the kubelet
 *   kills both at the end of the grace period, so the proxy serves the app for
 *   all of it but 2 s, kept to cut what is left and exit before the SIGKILL.
 * - native: SIGTERM comes only once the app has exited, with what is left of
 *   the grace period but never less than 2 s (the kubelet's minimum). The app's
 *   connections are gone by then, so 1 s is enough and always fits.
 *
 * A configured proxy.drainTimeoutSeconds lowers it, never raises it.
 */
export function proxyDrainMs(
  layout: Layout,
  gracePeriodSeconds: number,
  configuredSeconds: number | undefined,
): number {
  const fits = layout === 'classic' ? Math.max(1, gracePeriodSeconds - 2) : 1;
  return Math.min(fits, configuredSeconds ?? fits, MAX_DRAIN_SECONDS) * 1000;
}

/** The most OUTRIGGER_DRAIN_TIMEOUT_MS carries (the proxy reads up to 10 digits of ms). */
const MAX_DRAIN_SECONDS = 9_999_999;

/**
 * The classic layout's postStart hook on the proxy: `outrigger-proxy wait`
 * (proxy/src/wait.ts) exits once the proxy answers ready. The kubelet starts
 * containers in order and waits for each postStart hook before the next, so
 * the app, after the proxy in spec.containers, starts only then. If the hook
 * fails the kubelet restarts the proxy but starts the app anyway, so the
 * timeout is generous.
 */
export const PROXY_WAIT_COMMAND = ['outrigger-proxy', 'wait', '--timeout-seconds', '60'];

/** Everything injection adds, in the order it is added. */
export interface Injection {
  layout: Layout;
  /** Go first in spec.initContainers, before the user's own. */
  initContainers: V1Container[];
  /** Go first in spec.containers, before the user's own (classic layout only). */
  containers: V1Container[];
  /** Go last in spec.volumes. */
  volumes: V1Volume[];
  /** Set on metadata.annotations: added, except the keys in replacedAnnotations. */
  annotations: Record<string, string>;
  /** Keys of `annotations` whose value the user had set (the metrics merge's port and path). */
  replacedAnnotations: string[];
  /** User container probes replaced by probes of the proxy's health port. */
  probeRewrites: ProbeRewrite[];
  /** Empty lists and maps the patch creates first to hold what it adds (InjectionStatus.created). */
  created: CreatedField[];
}

/** The fields of a pod that injection may have to create, as JSON pointers. */
export type CreatedField =
  | '/spec/initContainers'
  | '/spec/volumes'
  | '/metadata'
  | '/metadata/annotations';

/** The JSON written to sidecar.outrigger.dev/status. */
export interface InjectionStatus {
  version: string;
  layout: Layout;
  initContainers: string[];
  containers: string[];
  volumes: string[];
  /** Annotation keys injection added besides this one (keys the user had set are not). */
  annotations: string[];
  /** Lists and maps injection created to hold them, removed again by uninject when left empty. */
  created: CreatedField[];
}

/** The probes a rewrite replaced, as the user wrote them: ORIGINAL_PROBES_ANNOTATION. */
export type OriginalProbes = Record<string, Partial<Record<ProbeField, V1Probe>>>;

export function renderInjection(
  pod: V1Pod,
  config: InjectionConfig,
  overrides: Overrides,
  /** The enclosing workload's name, for a template injected offline (InjectionContext.workload). */
  workload?: string,
): Injection {
  const declared = pod.spec?.terminationGracePeriodSeconds;
  // The apiserver sends a validated integer; `outrigger inject -f` may read anything.
  const grace =
    Number.isSafeInteger(declared) && (declared as number) >= 0
      ? (declared as number)
      : DEFAULT_GRACE_PERIOD_SECONDS;
  const {
    layout,
    init,
    proxy: sharedProxy,
    volumes,
    statusPrefix,
  } = sidecarParts(config, overrides, grace);
  refuseNameConflicts(pod, [init, sharedProxy], volumes);
  const { rewrites: probeRewrites, appProbes } =
    (overrides.rewriteAppProbes ?? config.rewriteAppProbes)
      ? rewriteAppProbes(
          pod.spec?.containers ?? [],
          capturesInboundPort(config, overrides),
          PORTS.health,
        )
      : { rewrites: [], appProbes: {} };
  // The rendered proxy is shared by every pod with the same overrides; each pod
  // gets a copy with what is its own: its workload identity, app probes and app metrics.
  // The copy is shallow (everything but env stays shared) and frozen like the original.
  const identity = workloadIdentity(pod, workload);
  const existing = pod.metadata?.annotations ?? {};
  const scrape = scrapeAnnotations(existing, config, overrides);
  const proxy = deepFreeze({
    ...sharedProxy,
    env: [
      ...(sharedProxy.env ?? []),
      { name: PROXY_ENV.workloadName, value: identity.workload },
      { name: PROXY_ENV.app, value: identity.app },
      { name: PROXY_ENV.version, value: identity.version },
      ...(probeRewrites.length === 0
        ? []
        : [{ name: PROXY_ENV.appProbes, value: JSON.stringify(appProbes) }]),
      ...(scrape.appMetrics === undefined
        ? []
        : [{ name: PROXY_ENV.appMetrics, value: JSON.stringify(scrape.appMetrics) }]),
    ],
  });
  const initContainers = layout === 'native' ? [init, proxy] : [init];
  const containers = layout === 'native' ? [] : [proxy];

  const annotations: Record<string, string> = { [STATUS_ANNOTATION]: '' };
  const firstUserContainer = pod.spec?.containers?.[0]?.name;
  if (firstUserContainer !== undefined && existing[DEFAULT_CONTAINER_ANNOTATION] === undefined) {
    annotations[DEFAULT_CONTAINER_ANNOTATION] = firstUserContainer;
  }
  Object.assign(annotations, scrape.set);
  const replacedAnnotations = Object.keys(scrape.replaced);
  if (replacedAnnotations.length > 0) {
    annotations[ORIGINAL_ANNOTATIONS_ANNOTATION] = JSON.stringify(scrape.replaced);
  }
  if (probeRewrites.length > 0) {
    annotations[ORIGINAL_PROBES_ANNOTATION] = JSON.stringify(
      originalProbes(pod.spec?.containers ?? [], probeRewrites),
    );
  }
  const created: CreatedField[] = [];
  if (initContainers.length > 0 && pod.spec?.initContainers == null)
    created.push('/spec/initContainers');
  if (volumes.length > 0 && pod.spec?.volumes == null) created.push('/spec/volumes');
  if (pod.metadata == null) created.push('/metadata');
  if (pod.metadata?.annotations == null) created.push('/metadata/annotations');
  // The heavy part of the status is rendered once per configuration; what
  // depends on the pod is a few short names appended to it.
  // The status itself is the first key; the others are what uninject removes.
  const added = Object.keys(annotations)
    .slice(1)
    .filter((key) => existing[key] === undefined);
  annotations[STATUS_ANNOTATION] =
    `${statusPrefix},"annotations":${JSON.stringify(added)},"created":${JSON.stringify(created)}}`;
  return {
    layout,
    initContainers,
    containers,
    volumes,
    annotations,
    replacedAnnotations,
    probeRewrites,
    created,
  };
}

/** The user's probes that the rewrites replace, by container name and field, untouched. */
function originalProbes(
  containers: readonly V1Container[],
  rewrites: readonly ProbeRewrite[],
): OriginalProbes {
  const originals: OriginalProbes = {};
  for (const { container, field } of rewrites) {
    const target = containers[container];
    const probe = target?.[field];
    if (target === undefined || probe === undefined) continue;
    originals[target.name] ??= {};
    (originals[target.name] as Partial<Record<ProbeField, V1Probe>>)[field] = probe;
  }
  return originals;
}

/** What injection adds that depends on the configuration and the overrides only. */
interface SidecarParts {
  layout: Layout;
  init: V1Container;
  proxy: V1Container;
  volumes: V1Volume[];
  /** The sidecar.outrigger.dev/status value up to its per-pod fields, without the closing brace. */
  statusPrefix: string;
}

// The same configuration and overrides always render the same containers, and
// nearly every pod asks for nothing special: render each pair once and share the
// result, frozen so no caller can change it for the next pod. A reloaded
// configuration is a new object, so it starts a cache of its own; the number of
// override sets kept per configuration is bounded.
const PARTS_PER_CONFIG = 256;
const partsCache = new WeakMap<InjectionConfig, Map<string, SidecarParts>>();

function sidecarParts(
  config: InjectionConfig,
  overrides: Overrides,
  gracePeriodSeconds: number,
): SidecarParts {
  let byOverrides = partsCache.get(config);
  if (byOverrides === undefined) {
    byOverrides = new Map();
    partsCache.set(config, byOverrides);
  }
  // The grace period sizes the proxy's drain; most pods keep the default.
  const key = `${gracePeriodSeconds} ${JSON.stringify(overrides)}`;
  const cached = byOverrides.get(key);
  if (cached !== undefined) return cached;

  const layout: Layout = (overrides.nativeSidecar ?? config.nativeSidecars) ? 'native' : 'classic';
  const init = renderInitContainer(config, overrides);
  const proxy = renderSidecar(config, overrides, layout, gracePeriodSeconds);
  const volumes: V1Volume[] = [
    { name: TMP_VOLUME, emptyDir: { medium: 'Memory', sizeLimit: '16Mi' } },
    { name: INIT_RUN_VOLUME, emptyDir: { medium: 'Memory', sizeLimit: '1Mi' } },
  ];
  const status: Omit<InjectionStatus, 'annotations' | 'created'> = {
    version: VERSION,
    layout,
    initContainers: layout === 'native' ? [init.name, proxy.name] : [init.name],
    containers: layout === 'native' ? [] : [proxy.name],
    volumes: volumes.map((v) => v.name),
  };
  const statusPrefix = JSON.stringify(status).slice(0, -1);
  const parts = deepFreeze({ layout, init, proxy, volumes, statusPrefix });
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
  // Configured selections were parsed when the file was loaded, so both they and
  // the annotations come in the same normalized form (`8080, 9090` → `8080,9090`).
  const includeInbound = includedInboundPorts(config, overrides);
  const includeRanges = overrides.includeOutboundIPRanges ?? i.includeOutboundIPRanges;
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

export function includedInboundPorts(
  config: InjectionConfig,
  overrides: Overrides,
): '*' | number[] {
  return overrides.includeInboundPorts ?? config.interception.includeInboundPorts;
}

/**
 * Whether the init container's rules send inbound connections to this port to
 * the proxy: included (`-b`), not excluded (`-d`), and not one of the proxy's
 * own ports, which outrigger-iptables always leaves alone.
 */
export function capturesInboundPort(
  config: InjectionConfig,
  overrides: Overrides,
): (port: number) => boolean {
  const include = includedInboundPorts(config, overrides);
  const exclude = new Set([
    ...(overrides.excludeInboundPorts ?? config.interception.excludeInboundPorts),
    PORTS.admin,
    PORTS.health,
    PORTS.prometheus,
  ]);
  return (port) => (include === '*' || include.includes(port)) && !exclude.has(port);
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
  gracePeriodSeconds = DEFAULT_GRACE_PERIOD_SECONDS,
): V1Container {
  const healthProbe = { httpGet: { path: HEALTH_READY_PATH, port: PORTS.health } };
  const container: V1Container = {
    name: PROXY_CONTAINER_NAME,
    image: overrides.proxyImage ?? config.proxy.image,
    imagePullPolicy: config.proxy.imagePullPolicy,
    env: renderProxyEnv(config, overrides, layout, gracePeriodSeconds),
    ports: [
      { name: 'http-prom', containerPort: PORTS.prometheus, protocol: 'TCP' },
      { name: 'http-health', containerPort: PORTS.health, protocol: 'TCP' },
    ],
    readinessProbe: { ...healthProbe, periodSeconds: 2, timeoutSeconds: 1, failureThreshold: 3 },
    // Native sidecars hold the app's containers until this succeeds, so the app
    // never starts with its traffic redirected to a proxy that is not listening.
    startupProbe: { ...healthProbe, periodSeconds: 1, timeoutSeconds: 1, failureThreshold: 600 },
    resources: proxyResources(config.proxy.resources, overrides),
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
  else container.lifecycle = { postStart: { exec: { command: [...PROXY_WAIT_COMMAND] } } };
  return container;
}

function renderProxyEnv(
  config: InjectionConfig,
  overrides: Overrides,
  layout: Layout,
  gracePeriodSeconds: number,
): V1EnvVar[] {
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
    {
      name: PROXY_ENV.accessLogFormat,
      value: overrides.accessLogFormat ?? config.proxy.accessLogFormat,
    },
    { name: PROXY_ENV.layout, value: layout },
    {
      name: PROXY_ENV.drainTimeoutMs,
      value: String(proxyDrainMs(layout, gracePeriodSeconds, config.proxy.drainTimeoutSeconds)),
    },
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
  for (const { container, field, probe } of injection.probeRewrites) {
    const target = spec.containers[container];
    if (target !== undefined) target[field] = probe;
  }
  if (injection.containers.length > 0)
    spec.containers = [...injection.containers, ...spec.containers];
  if (injection.volumes.length > 0) spec.volumes = [...(spec.volumes ?? []), ...injection.volumes];
  result.spec = spec;
  result.metadata = {
    ...result.metadata,
    annotations: { ...result.metadata?.annotations, ...injection.annotations },
  };
  return result;
}
