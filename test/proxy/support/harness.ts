// Loopback fixtures for the proxy suites: an in-process proxy whose original
// destination is injected (no iptables on loopback), real node:http and
// node:net peers, and small helpers to read what the proxy recorded.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { defaultConfig, type ProxyConfig } from '../../../proxy/src/config.ts';
import { createLogger } from '../../../proxy/src/log.ts';
import { type RunningProxy, startProxy } from '../../../proxy/src/proxy.ts';
import type { RequestRecord } from '../../../proxy/src/stats/request-record.ts';

export const ROOT = path.resolve(import.meta.dirname, '../../..');
export const NODE = path.join(ROOT, 'node_modules/.bin/node');
/** The proxy entry point the child-process suites run; point it at dist/ to test the build. */
export const PROXY_MAIN =
  process.env.OUTRIGGER_TEST_PROXY_MAIN ?? path.join(ROOT, 'proxy/src/main.ts');

/** NODE_OPTIONS of the container image (images/catalog.ts): a small young generation and a capped old one. */
export const PRODUCTION_NODE_OPTIONS = '--max-semi-space-size=2 --max-old-space-size=64';

const EPHEMERAL = { outbound: 0, inbound: 0, admin: 0, health: 0, prometheus: 0 };

/** Starts the proxy in this process, sending every connection to `target`. */
export async function startTestProxy(
  target: { port: number; host?: string },
  overrides: Partial<ProxyConfig> = {},
  accessLog?: (line: string) => void,
): Promise<RunningProxy> {
  const config = defaultConfig({ ports: { ...EPHEMERAL }, logLevel: 'silent', ...overrides });
  const destination = {
    address: target.host ?? '127.0.0.1',
    port: target.port,
    family: 4 as const,
  };
  return startProxy(config, {
    log: createLogger('silent'),
    resolveOriginalDestination: () => destination,
    ...(accessLog ? { accessLog } : {}),
  });
}

export async function listenHttp(
  handler: http.RequestListener,
): Promise<http.Server & { port: number }> {
  const server = http.createServer({ keepAliveTimeout: 30_000 }, handler);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return Object.assign(server, { port: (server.address() as net.AddressInfo).port });
}

export async function listenTcp(
  onConnection: (socket: net.Socket) => void,
): Promise<net.Server & { port: number }> {
  const server = net.createServer({ allowHalfOpen: true }, onConnection);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return Object.assign(server, { port: (server.address() as net.AddressInfo).port });
}

export function closeServer(server: net.Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    if (server instanceof http.Server) server.closeAllConnections();
  });
}

/** Waits until `count` records exist (records are published as responses complete). */
export async function recordsAfter(
  proxy: RunningProxy,
  count: number,
  timeoutMs = 5000,
): Promise<RequestRecord[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const records = proxy.stats.recentRequests.toArray();
    if (records.length >= count || Date.now() > deadline) return records;
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Sends raw bytes and collects everything the peer sends until it closes. */
export async function rawExchange(
  port: number,
  bytes: Buffer | string,
  halfClose = true,
): Promise<Buffer> {
  const socket = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  socket.on('end', () => socket.end());
  await once(socket, 'connect');
  socket.write(bytes);
  if (halfClose) socket.end();
  await once(socket, 'close');
  return Buffer.concat(chunks);
}

// ── child-process proxy (robustness, namespace) ───────────────────────────────

export interface ProxyProcess {
  child: ChildProcess;
  ports: ProxyConfig['ports'];
  stderr: () => string;
  exited: Promise<number | null>;
}

/** Starts the proxy as a child process; `wrapper` runs it (e.g. `prlimit --nofile=300`). */
export async function spawnProxy(
  args: string[],
  env: NodeJS.ProcessEnv = {},
  wrapper: readonly string[] = [],
): Promise<ProxyProcess> {
  const [file, ...before] = [...wrapper, NODE, PROXY_MAIN];
  const child = spawn(file!, [...before, ...args], {
    env: { PATH: process.env.PATH, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const ports = await new Promise<ProxyConfig['ports']>((resolve, reject) => {
    child.stderr!.on('data', (c: Buffer) => {
      stderr += c.toString();
      const line = stderr.split('\n').find((l) => l.includes('"msg":"ready"'));
      if (line) resolve((JSON.parse(line) as { ports: ProxyConfig['ports'] }).ports);
    });
    child.on('exit', (code) => reject(new Error(`proxy exited ${code} before ready: ${stderr}`)));
  });
  child.stdout!.resume();
  return { child, ports, stderr: () => stderr, exited };
}

/** Runs `run` against a child-process proxy and kills it afterwards if it is still running. */
export async function withSpawnedProxy(
  args: string[],
  env: NodeJS.ProcessEnv,
  run: (p: ProxyProcess) => Promise<void>,
  wrapper: readonly string[] = [],
): Promise<void> {
  const proxy = await spawnProxy(args, env, wrapper);
  try {
    await run(proxy);
  } finally {
    if (proxy.child.exitCode === null) {
      proxy.child.kill('SIGKILL');
      await proxy.exited;
    }
  }
}

/**
 * withSpawnedProxy with the container image's V8 heap settings, so memory is
 * judged as deployed.
 */
export function withProxyProcess(
  args: string[],
  run: (p: ProxyProcess) => Promise<void>,
  wrapper: readonly string[] = [],
): Promise<void> {
  return withSpawnedProxy(args, { NODE_OPTIONS: PRODUCTION_NODE_OPTIONS }, run, wrapper);
}

export const EPHEMERAL_FLAGS = [
  '--outbound-port=0',
  '--inbound-port=0',
  '--admin-port=0',
  '--health-port=0',
  '--prometheus-port=0',
];

export function openFds(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

export function rssKiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
}

export async function getJson<T>(url: string): Promise<T> {
  const response = await fetch(url);
  return (await response.json()) as T;
}
