// Pod manifests for the node suite, all running the test app image (an
// httpbin-like server with node in it) so that nothing has to be pulled.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { CLUSTER_DIR } from './harness.ts';

interface BuiltImage {
  name: string;
  reference: string;
}

const repoRoot = new URL('../../', import.meta.url).pathname;

/** The reference `npm run images` gave an image (dist/images/images.json). */
export function imageReference(name: string): string {
  const images = JSON.parse(
    readFileSync(join(repoRoot, 'dist', 'images', 'images.json'), 'utf8'),
  ) as BuiltImage[];
  const image = images.find((i) => i.name === name);
  if (image === undefined) throw new Error(`no ${name} image in dist/images; run npm run images`);
  return image.reference;
}

export const TESTAPP_PORT = 80;

export interface AppPodOptions {
  name: string;
  annotations?: Record<string, string>;
  labels?: Record<string, string>;
  /** Arguments of the test app (default: serve on port 80 on every address). */
  args?: string[];
  /** Extra containers (same image). */
  sidecars?: Array<{ name: string; args: string[] }>;
  readinessProbe?: Record<string, unknown>;
  livenessProbe?: Record<string, unknown>;
  startupProbe?: Record<string, unknown>;
  restartPolicy?: 'Always' | 'Never' | 'OnFailure';
  terminationGracePeriodSeconds?: number;
}

/** The pod spec (no metadata) of a test app pod. */
export function appPodSpec(options: Omit<AppPodOptions, 'name'>): Record<string, unknown> {
  const image = imageReference('testapp');
  const container = (name: string, args: string[], extra: Record<string, unknown> = {}) => ({
    name,
    image,
    imagePullPolicy: 'IfNotPresent',
    args,
    ports: [{ name: 'http', containerPort: TESTAPP_PORT }],
    resources: { requests: { cpu: '10m', memory: '32Mi' }, limits: { memory: '128Mi' } },
    securityContext: {
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
    },
    ...extra,
  });
  const probes: Record<string, unknown> = {};
  if (options.readinessProbe) probes.readinessProbe = options.readinessProbe;
  if (options.livenessProbe) probes.livenessProbe = options.livenessProbe;
  if (options.startupProbe) probes.startupProbe = options.startupProbe;
  return {
    restartPolicy: options.restartPolicy ?? 'Always',
    terminationGracePeriodSeconds: options.terminationGracePeriodSeconds ?? 10,
    securityContext: {
      runAsNonRoot: true,
      runAsUser: 1000,
      runAsGroup: 1000,
      seccompProfile: { type: 'RuntimeDefault' },
      // Port 80 without NET_BIND_SERVICE (a namespaced, "safe" sysctl).
      sysctls: [{ name: 'net.ipv4.ip_unprivileged_port_start', value: '80' }],
    },
    containers: [
      container('app', options.args ?? ['serve', '--port', String(TESTAPP_PORT)], probes),
      ...(options.sidecars ?? []).map((s) => container(s.name, s.args, { ports: [] })),
    ],
  };
}

export function appPod(options: AppPodOptions): string {
  return stringify({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: options.name,
      labels: { app: options.name, ...options.labels },
      annotations: options.annotations ?? {},
    },
    spec: appPodSpec(options),
  });
}

export { CLUSTER_DIR };
