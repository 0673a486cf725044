// The app probe rewrite. With inbound capture, the kubelet's probe of an app
// port lands on the proxy, which accepts every connection: a tcpSocket probe
// of a port nothing listens on would pass, and an httpGet probe would see the
// proxy's 503 instead of the app. So each httpGet/tcpSocket probe of a
// captured app port is pointed at the proxy's health port
// (`/app-health/<container>/<readyz|livez|startupz>`), and the original goes
// to the proxy, which checks the app itself, as uid 1337, outside the capture.
// Pure: containers in, rewrites out.
import type { V1Container, V1HTTPGetAction, V1Probe } from '@kubernetes/client-node';
import { APP_HEALTH_PATH_PREFIX, type AppProbe, type AppProbes } from '../shared/contract.ts';

export const PROBE_FIELDS = {
  readinessProbe: 'readyz',
  livenessProbe: 'livez',
  startupProbe: 'startupz',
} as const;

export type ProbeField = keyof typeof PROBE_FIELDS;

/** One probe of one user container, as the pod will carry it after injection. */
export interface ProbeRewrite {
  /** Index in the pod's spec.containers (as the apiserver sent it). */
  container: number;
  field: ProbeField;
  probe: V1Probe;
}

export interface AppProbeRewrites {
  rewrites: ProbeRewrite[];
  /** The originals by health path: OUTRIGGER_APP_PROBES. */
  appProbes: AppProbes;
}

/** The path on the health port that answers for one probe of one container. */
export function appHealthPath(container: string, field: ProbeField): string {
  return `${APP_HEALTH_PATH_PREFIX}${container}/${PROBE_FIELDS[field]}`;
}

/**
 * Rewrites every httpGet and tcpSocket probe whose port the init container
 * captures. Left alone: gRPC and exec probes (they do not pass through the
 * capture), probes with their own `host` (they go elsewhere), probes of ports
 * that are not captured, and named ports the container does not declare (the
 * kubelet fails those itself, and we do not guess).
 */
export function rewriteAppProbes(
  containers: readonly V1Container[],
  captured: (port: number) => boolean,
  healthPort: number,
): AppProbeRewrites {
  const rewrites: ProbeRewrite[] = [];
  const appProbes: AppProbes = {};
  containers.forEach((container, index) => {
    for (const field of Object.keys(PROBE_FIELDS) as ProbeField[]) {
      const probe = container[field];
      if (probe === undefined) continue;
      const original = appProbe(container, probe);
      if (original === undefined) continue;
      const port = 'httpGet' in original ? original.httpGet.port : original.tcpSocket.port;
      if (!captured(port)) continue;
      const path = appHealthPath(container.name, field);
      appProbes[path] = original;
      rewrites.push({
        container: index,
        field,
        probe: pointedAt(probe, { path, port: healthPort, scheme: 'HTTP' }),
      });
    }
  });
  return { rewrites, appProbes };
}

/** The probe with its check replaced by `httpGet`, in the check's place among the keys. */
function pointedAt(probe: V1Probe, httpGet: V1HTTPGetAction): V1Probe {
  const pointed: V1Probe = {};
  for (const [key, value] of Object.entries(probe)) {
    if (key === 'httpGet' || key === 'tcpSocket') pointed.httpGet = httpGet;
    else pointed[key as keyof V1Probe] = value;
  }
  return pointed;
}

function appProbe(container: V1Container, probe: V1Probe): AppProbe | undefined {
  // The apiserver defaults 0 (or nothing) to 1 second.
  const timeout = probe.timeoutSeconds;
  const timeoutSeconds = Number.isInteger(timeout) && (timeout as number) > 0 ? timeout! : 1;
  if (probe.httpGet !== undefined) {
    const { httpGet } = probe;
    const port = resolvePort(container, httpGet.port);
    if (port === undefined || httpGet.host !== undefined) return undefined;
    const scheme = httpGet.scheme === 'HTTPS' ? 'HTTPS' : 'HTTP';
    // The kubelet puts a `/` before a relative path, as a URL with a host needs.
    const path = typeof httpGet.path === 'string' ? httpGet.path : '/';
    const check: AppProbe = {
      httpGet: { path: path.startsWith('/') ? path : `/${path}`, port, scheme },
      timeoutSeconds,
    };
    const headers = (httpGet.httpHeaders ?? []).filter(
      (h) => typeof h?.name === 'string' && typeof h.value === 'string',
    );
    if (headers.length > 0)
      check.httpGet.httpHeaders = headers.map(({ name, value }) => ({ name, value }));
    return check;
  }
  if (probe.tcpSocket !== undefined) {
    const port = resolvePort(container, probe.tcpSocket.port);
    if (port === undefined || probe.tcpSocket.host !== undefined) return undefined;
    return { tcpSocket: { port }, timeoutSeconds };
  }
  return undefined;
}

/**
 * A probe's port as the kubelet resolves it: a number, or a name looked up in
 * the container's ports, or (the kubelet's last try) a number written as text.
 */
function resolvePort(container: V1Container, port: number | string): number | undefined {
  if (typeof port === 'number') return validPort(port);
  if (typeof port !== 'string') return undefined;
  const named = container.ports?.find((p) => p.name === port);
  if (named !== undefined) return validPort(named.containerPort);
  return /^[0-9]{1,5}$/.test(port) ? validPort(Number(port)) : undefined;
}

function validPort(port: number): number | undefined {
  return Number.isInteger(port) && port >= 1 && port <= 65535 ? port : undefined;
}
