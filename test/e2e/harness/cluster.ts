// A real control plane for tests, started the way controller-runtime's envtest
// starts one: etcd and kube-apiserver on loopback with random ports, a client
// certificate in system:masters, a service-account signing key and RBAC. There is
// no controller-manager or scheduler: pods are admitted and stored, then stay Pending,
// which is all an admission webhook test needs.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createClusterPki } from './pki.ts';
import { type ToolPaths, toolPaths } from './tools.ts';

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface TestCluster {
  /** https://127.0.0.1:<port> */
  server: string;
  /** Kubeconfig of a system:masters admin user. */
  kubeconfig: string;
  /** Scratch directory removed on stop(); callers may put their own files here. */
  dir: string;
  tools: ToolPaths;
  /** Runs kubectl as the admin user; never throws on a non-zero exit. */
  kubectl(args: string[], input?: string): Promise<CommandResult>;
  /** Runs helm against this cluster with its own config/cache/data homes. */
  helm(args: string[]): Promise<CommandResult>;
  /** Writes a kubeconfig for a bearer token (e.g. a ServiceAccount token) and returns its path. */
  tokenKubeconfig(name: string, token: string): string;
  stop(): Promise<void>;
}

/** A port the kernel just handed out on loopback; released before the caller binds it. */
export async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export function run(
  file: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; input?: string; timeoutMs?: number } = {},
): Promise<CommandResult> {
  return new Promise((resolve) => {
    const child = execFile(
      file,
      args,
      {
        env: options.env ?? process.env,
        timeout: options.timeoutMs ?? 60_000,
        maxBuffer: 64 << 20,
      },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, stdout: String(stdout), stderr: String(stderr) });
      },
    );
    if (options.input !== undefined) child.stdin?.end(options.input);
    else child.stdin?.end();
  });
}

const children = new Set<ChildProcess>();
// A crashed test run must not leave an apiserver listening behind it.
process.once('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

function startProcess(binary: string, args: string[], logFile: string): ChildProcess {
  const log = openSync(logFile, 'a');
  // No proxy variables: the apiserver would send webhook calls to 127.0.0.1 through them.
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp' };
  const child = spawn(binary, args, { stdio: ['ignore', log, log], env });
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

function getReadyz(
  server: string,
  pki: { ca: Buffer; cert: Buffer; key: Buffer },
): Promise<number> {
  return new Promise((resolve) => {
    const req = request(`${server}/readyz`, { ...pki, timeout: 2_000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', () => resolve(0));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

function tail(file: string): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-30).join('\n');
  } catch {
    return '(no log)';
  }
}

/** The service-cluster-ip-range, a documentation range so it can never collide with a real one. */
export const SERVICE_CLUSTER_IP_RANGE = '198.51.100.0/24';

export async function startCluster(): Promise<TestCluster> {
  const tools = toolPaths();
  const dir = mkdtempSync(join(tmpdir(), 'outrigger-e2e-'));
  const pki = createClusterPki(dir);
  const started: ChildProcess[] = [];
  const stop = async () => {
    for (const child of started.reverse()) await stopProcess(child);
    if (!process.env.OUTRIGGER_E2E_KEEP) rmSync(dir, { recursive: true, force: true });
  };

  try {
    const [etcdClient, etcdPeer, apiPort] = [await freePort(), await freePort(), await freePort()];
    const etcdUrl = `http://127.0.0.1:${etcdClient}`;
    const peerUrl = `http://127.0.0.1:${etcdPeer}`;
    started.push(
      startProcess(
        tools.etcd,
        [
          `--data-dir=${join(dir, 'etcd')}`,
          `--listen-client-urls=${etcdUrl}`,
          `--advertise-client-urls=${etcdUrl}`,
          `--listen-peer-urls=${peerUrl}`,
          `--initial-advertise-peer-urls=${peerUrl}`,
          `--initial-cluster=default=${peerUrl}`,
          // A throwaway store: durability buys nothing and fsync costs seconds on CI disks.
          '--unsafe-no-fsync',
          '--log-level=warn',
        ],
        join(dir, 'etcd.log'),
      ),
    );

    const server = `https://127.0.0.1:${apiPort}`;
    const apiserver = startProcess(
      tools.kubeApiserver,
      [
        `--etcd-servers=${etcdUrl}`,
        '--bind-address=127.0.0.1',
        '--advertise-address=127.0.0.1',
        `--secure-port=${apiPort}`,
        `--cert-dir=${join(dir, 'apiserver-certs')}`,
        `--tls-cert-file=${pki.servingCert}`,
        `--tls-private-key-file=${pki.servingKey}`,
        `--client-ca-file=${pki.caCert}`,
        `--service-account-key-file=${pki.serviceAccountPub}`,
        `--service-account-signing-key-file=${pki.serviceAccountKey}`,
        '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
        '--authorization-mode=RBAC',
        '--enable-admission-plugins=MutatingAdmissionWebhook,ValidatingAdmissionWebhook',
        `--service-cluster-ip-range=${SERVICE_CLUSTER_IP_RANGE}`,
        '--allow-privileged=true',
        // Only one apiserver and no kube-proxy: nothing needs the kubernetes Endpoints.
        '--endpoint-reconciler-type=none',
      ],
      join(dir, 'apiserver.log'),
    );
    started.push(apiserver);

    const clientPki = {
      ca: readFileSync(pki.caCert),
      cert: readFileSync(pki.adminCert),
      key: readFileSync(pki.adminKey),
    };
    const deadline = Date.now() + 120_000;
    for (;;) {
      if (apiserver.exitCode !== null) {
        throw new Error(
          `kube-apiserver exited with ${apiserver.exitCode}:\n${tail(join(dir, 'apiserver.log'))}`,
        );
      }
      if ((await getReadyz(server, clientPki)) === 200) break;
      if (Date.now() > deadline) {
        throw new Error(
          `kube-apiserver not ready within 120s:\n${tail(join(dir, 'apiserver.log'))}`,
        );
      }
      await sleep(250);
    }

    const kubeconfig = join(dir, 'admin.kubeconfig');
    writeFileSync(
      kubeconfig,
      kubeconfigYaml(server, pki.caCert, { cert: pki.adminCert, key: pki.adminKey }),
    );

    const helmEnv = {
      ...process.env,
      KUBECONFIG: kubeconfig,
      HELM_CACHE_HOME: join(dir, 'helm', 'cache'),
      HELM_CONFIG_HOME: join(dir, 'helm', 'config'),
      HELM_DATA_HOME: join(dir, 'helm', 'data'),
    };
    return {
      server,
      kubeconfig,
      dir,
      tools,
      kubectl: (args, input) =>
        run(
          tools.kubectl,
          ['--kubeconfig', kubeconfig, ...args],
          input === undefined ? {} : { input },
        ),
      helm: (args) => run(tools.helm, args, { env: helmEnv, timeoutMs: 180_000 }),
      tokenKubeconfig: (name, token) => {
        const path = join(dir, `${name}.kubeconfig`);
        writeFileSync(path, kubeconfigYaml(server, pki.caCert, { token }));
        return path;
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

function kubeconfigYaml(
  server: string,
  caFile: string,
  user: { cert: string; key: string } | { token: string },
): string {
  const credentials =
    'token' in user
      ? [`    token: ${user.token}`]
      : [`    client-certificate: ${user.cert}`, `    client-key: ${user.key}`];
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: e2e',
    '  cluster:',
    `    server: ${server}`,
    `    certificate-authority: ${caFile}`,
    'users:',
    '- name: e2e',
    '  user:',
    ...credentials,
    'contexts:',
    '- name: e2e',
    '  context: {cluster: e2e, user: e2e}',
    'current-context: e2e',
    '',
  ].join('\n');
}
