// The node suite's view of the local cluster (npm run cluster:up): kubectl and
// helm against it, throwaway namespaces, and the test app's client run inside
// pods — the only place the pods' documentation-range addresses are reachable.
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { skipBecause } from '../support/prerequisites.ts';

export const CLUSTER_DIR =
  process.env.OUTRIGGER_CLUSTER_DIR ?? join(homedir(), '.cache', 'outrigger-cluster');
export const KUBECONFIG = join(CLUSTER_DIR, 'kubeconfig');

const repoRoot = new URL('../../', import.meta.url).pathname;
const buildScript = join(repoRoot, 'test/e2e/tools/build.sh');
function pinned(name: string): string {
  const match = readFileSync(buildScript, 'utf8').match(new RegExp(`^${name}=(\\S+)$`, 'm'));
  if (!match?.[1]) throw new Error(`build.sh does not pin ${name}`);
  return match[1];
}
const toolsCache =
  process.env.OUTRIGGER_TOOLS_CACHE ?? join(homedir(), '.cache', 'outrigger-tools');
export const KUBECTL = join(
  toolsCache,
  `kubernetes-${pinned('KUBERNETES_VERSION')}`,
  'bin',
  'kubectl',
);
export const HELM = join(toolsCache, `helm-${pinned('HELM_VERSION')}`, 'bin', 'helm');
export const CHART = join(repoRoot, 'charts', 'outrigger');
export const RELEASE = { name: 'outrigger', namespace: 'outrigger-system' } as const;

export interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

export function run(
  file: string,
  args: string[],
  options: { input?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {},
): Promise<Result> {
  return new Promise((resolve) => {
    const child = execFile(
      file,
      args,
      { timeout: options.timeoutMs ?? 120_000, maxBuffer: 64 << 20, env: options.env },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, stdout: String(stdout), stderr: String(stderr) });
      },
    );
    child.stdin?.end(options.input ?? '');
  });
}

export function kubectl(args: string[], input?: string, timeoutMs?: number): Promise<Result> {
  return run(KUBECTL, ['--kubeconfig', KUBECONFIG, ...args], {
    ...(input === undefined ? {} : { input }),
    ...(timeoutMs === undefined ? {} : { timeoutMs }),
  });
}

/** kubectl that must succeed; the error carries what kubectl said. */
export async function kubectlOk(
  args: string[],
  input?: string,
  timeoutMs?: number,
): Promise<string> {
  const result = await kubectl(args, input, timeoutMs);
  if (result.code !== 0) {
    throw new Error(
      `kubectl ${args.join(' ')} exited ${result.code}: ${result.stderr}${result.stdout}`,
    );
  }
  return result.stdout;
}

export function helm(args: string[], timeoutMs = 300_000): Promise<Result> {
  return run(HELM, args, {
    timeoutMs,
    env: {
      ...process.env,
      KUBECONFIG,
      HELM_CACHE_HOME: join(CLUSTER_DIR, 'helm', 'cache'),
      HELM_CONFIG_HOME: join(CLUSTER_DIR, 'helm', 'config'),
      HELM_DATA_HOME: join(CLUSTER_DIR, 'helm', 'data'),
    },
  });
}

/**
 * Why the node suite cannot run here, or undefined when the local cluster is
 * up. Under CI a missing cluster is a failure, not a skip.
 */
export async function clusterMissing(): Promise<string | undefined> {
  if (!existsSync(KUBECTL)) return `kubectl not built (${KUBECTL}); run npm run tools:e2e`;
  if (!existsSync(KUBECONFIG)) {
    return `no local cluster (${KUBECONFIG} missing); run npm run images && npm run cluster:up`;
  }
  const ready = await kubectl(['get', '--raw', '/readyz'], undefined, 10_000);
  if (ready.code !== 0) return `the local cluster does not answer: ${ready.stderr.trim()}`;
  return undefined;
}

/**
 * For describe()'s `skip` option: false when the local cluster is up, else why
 * not. Under CI a missing cluster is a failure, not a skip.
 */
export async function skipUnlessCluster(): Promise<string | false> {
  return skipBecause(await clusterMissing());
}

let counter = 0;
/** A fresh namespace (deleted at the end of the test file), with the labels given. */
export async function createNamespace(
  prefix: string,
  labels: Record<string, string> = {},
): Promise<string> {
  const name = `${prefix}-${process.pid}-${++counter}`;
  const labelLines = Object.entries(labels).map(([k, v]) => `    ${k}: "${v}"`);
  await kubectlOk(
    ['apply', '-f', '-'],
    [
      'apiVersion: v1',
      'kind: Namespace',
      'metadata:',
      `  name: ${name}`,
      ...(labelLines.length > 0 ? ['  labels:', ...labelLines] : []),
      '',
    ].join('\n'),
  );
  // The namespace's default ServiceAccount appears a moment after the namespace.
  await waitUntil(`serviceaccount default in ${name}`, 30_000, async () => {
    return (await kubectl(['-n', name, 'get', 'serviceaccount', 'default'])).code === 0;
  });
  return name;
}

export async function deleteNamespace(name: string): Promise<void> {
  await kubectl(['delete', 'namespace', name, '--wait=false', '--ignore-not-found']);
}

export async function apply(namespace: string, yaml: string): Promise<void> {
  await kubectlOk(['-n', namespace, 'apply', '-f', '-'], yaml);
}

export async function waitUntil(
  what: string,
  timeoutMs: number,
  check: () => Promise<boolean>,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(500);
  }
}

export interface PodStatus {
  metadata: { name: string; annotations?: Record<string, string>; labels?: Record<string, string> };
  spec: {
    initContainers?: Array<{ name: string; restartPolicy?: string; [k: string]: unknown }>;
    containers: Array<{ name: string; [k: string]: unknown }>;
  };
  status: {
    phase: string;
    podIP?: string;
    conditions?: Array<{ type: string; status: string }>;
    containerStatuses?: Array<{
      name: string;
      ready: boolean;
      restartCount: number;
      state: Record<string, unknown>;
    }>;
    initContainerStatuses?: Array<{
      name: string;
      ready: boolean;
      restartCount: number;
      state: Record<string, unknown>;
    }>;
  };
}

export async function getPod(namespace: string, name: string): Promise<PodStatus> {
  return JSON.parse(await kubectlOk(['-n', namespace, 'get', 'pod', name, '-o', 'json']));
}

export async function podsBySelector(namespace: string, selector: string): Promise<PodStatus[]> {
  const list = JSON.parse(
    await kubectlOk(['-n', namespace, 'get', 'pods', '-l', selector, '-o', 'json']),
  ) as { items: PodStatus[] };
  return list.items;
}

export function isReady(pod: PodStatus): boolean {
  return pod.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}

/** Waits for the pod to be Ready and returns it; the error shows the pod's state. */
export async function waitForReady(
  namespace: string,
  name: string,
  timeoutMs = 120_000,
): Promise<PodStatus> {
  const result = await kubectl(
    [
      '-n',
      namespace,
      'wait',
      '--for=condition=Ready',
      `pod/${name}`,
      `--timeout=${timeoutMs / 1000}s`,
    ],
    undefined,
    timeoutMs + 10_000,
  );
  if (result.code !== 0) {
    const describe = await kubectl(['-n', namespace, 'describe', 'pod', name]);
    throw new Error(`pod ${namespace}/${name} not Ready: ${result.stderr}\n${describe.stdout}`);
  }
  return getPod(namespace, name);
}

export async function waitForPhase(
  namespace: string,
  name: string,
  phase: 'Succeeded' | 'Failed' | 'Running',
  timeoutMs = 120_000,
): Promise<PodStatus> {
  let last: PodStatus | undefined;
  try {
    await waitUntil(`pod ${namespace}/${name} ${phase}`, timeoutMs, async () => {
      last = await getPod(namespace, name);
      return last.status.phase === phase;
    });
  } catch (error) {
    const describe = await kubectl(['-n', namespace, 'describe', 'pod', name]);
    throw new Error(
      `${(error as Error).message}; last phase ${last?.status.phase}\n${describe.stdout}`,
    );
  }
  return last!;
}

export function exec(
  namespace: string,
  pod: string,
  container: string,
  command: string[],
): Promise<Result> {
  return kubectl(
    ['-n', namespace, 'exec', pod, '-c', container, '--', ...command],
    undefined,
    60_000,
  );
}

export async function logs(namespace: string, pod: string, container: string): Promise<string> {
  return kubectlOk(['-n', namespace, 'logs', pod, '-c', container]);
}
