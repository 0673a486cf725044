// The app's own probes, checked for the kubelet. The injector points the app's
// httpGet/tcpSocket probes at `:15021/app-health/<container>/<kind>` and hands
// the originals over in OUTRIGGER_APP_PROBES; each check here does what the
// kubelet would have done, from the proxy's uid (never redirected), to the pod
// IP and the app's real port, and answers with the app's result.
import type http from 'node:http';
import type { AppProbe, AppProbes } from '../../../src/shared/contract.ts';
import { fail, ok, type Parsed } from '../../../src/shared/grammar/parsed.ts';

// See admin-servers.ts: built-ins through getBuiltinModule load nothing extra.
// node:https is loaded only by the first HTTPS probe.
const { request: httpRequest } = process.getBuiltinModule('node:http');
const { connect } = process.getBuiltinModule('node:net');

/** The answer the health port gives the kubelet for one probe. */
export interface ProbeAnswer {
  status: number;
  body: string;
}

/** The kubelet reads at most 10 KiB of a probe's body; a short one says enough. */
const BODY_LIMIT = 1024;

/**
 * OUTRIGGER_APP_PROBES: a JSON object from `/app-health/...` paths to probes.
 * Fails with a sentence saying what was expected when the value is not that.
 */
export function parseAppProbes(raw: string): Parsed<AppProbes> {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return fail('a JSON object of app probes');
  }
  if (!isObject(value)) return fail('a JSON object of app probes');
  for (const [path, probe] of Object.entries(value)) {
    const problem = probeProblem(path, probe);
    if (problem !== undefined) return fail(`${path}: ${problem}`);
  }
  return ok(value as AppProbes);
}

function probeProblem(path: string, probe: unknown): string | undefined {
  if (!path.startsWith('/app-health/')) return 'the path must start with /app-health/';
  if (!isObject(probe)) return 'expected a probe object';
  const { httpGet, tcpSocket, timeoutSeconds } = probe;
  if (typeof timeoutSeconds !== 'number' || !(timeoutSeconds > 0))
    return 'timeoutSeconds must be a positive number';
  if (isObject(httpGet) === isObject(tcpSocket))
    return 'expected exactly one of httpGet, tcpSocket';
  const handler = (isObject(httpGet) ? httpGet : tcpSocket) as Record<string, unknown>;
  const { port } = handler;
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535)
    return 'port must be a number from 1 to 65535';
  if (!isObject(httpGet)) return undefined;
  if (typeof httpGet.path !== 'string' || !httpGet.path.startsWith('/'))
    return 'httpGet.path must start with /';
  if (httpGet.scheme !== 'HTTP' && httpGet.scheme !== 'HTTPS')
    return 'httpGet.scheme must be HTTP or HTTPS';
  const headers = httpGet.httpHeaders;
  if (
    headers !== undefined &&
    !(
      Array.isArray(headers) &&
      headers.every((h) => isObject(h) && typeof h.name === 'string' && typeof h.value === 'string')
    )
  )
    return 'httpGet.httpHeaders must be a list of {name, value}';
  return undefined;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Checks the app as the kubelet would: `address` is the pod IP (the kubelet's
 * target), `userAgent` the kubelet's own (`kube-probe/1.36`), passed on.
 */
export function checkAppProbe(
  probe: AppProbe,
  address: string,
  userAgent: string | undefined,
): Promise<ProbeAnswer> {
  const timeoutMs = probe.timeoutSeconds * 1000;
  return 'httpGet' in probe
    ? httpCheck(probe.httpGet, address, userAgent, timeoutMs)
    : tcpCheck(probe.tcpSocket.port, address, timeoutMs);
}

function tcpCheck(port: number, address: string, timeoutMs: number): Promise<ProbeAnswer> {
  return new Promise((resolve) => {
    const socket = connect({ host: address, port, timeout: timeoutMs });
    socket.once('connect', () => {
      socket.destroy();
      resolve({ status: 200, body: `tcp ${address}:${port} accepted\n` });
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve({ status: 503, body: `tcp ${address}:${port}: timed out after ${timeoutMs} ms\n` });
    });
    socket.once('error', (err) => {
      resolve({ status: 503, body: `tcp ${address}:${port}: ${err.message}\n` });
    });
  });
}

type HttpGet = Extract<AppProbe, { httpGet: unknown }>['httpGet'];

function httpCheck(
  probe: HttpGet,
  address: string,
  userAgent: string | undefined,
  timeoutMs: number,
): Promise<ProbeAnswer> {
  // The kubelet's defaults, then the probe's own headers (a Host header among
  // them sets the request's host, as it does for the kubelet).
  const headers: Record<string, string> = {
    'user-agent': userAgent ?? 'kube-probe',
    accept: '*/*',
  };
  for (const { name, value } of probe.httpHeaders ?? []) headers[name.toLowerCase()] = value;
  const options = {
    host: address,
    port: probe.port,
    path: probe.path,
    method: 'GET',
    headers,
    agent: false,
    timeout: timeoutMs,
  } as const;
  const target = `${probe.scheme.toLowerCase()}://${address}:${probe.port}${probe.path}`;
  return new Promise((resolve) => {
    const fail = (err: Error) => resolve({ status: 503, body: `GET ${target}: ${err.message}\n` });
    const onResponse = (res: http.IncomingMessage) => {
      let body = '';
      res.setEncoding('latin1');
      res.on('data', (chunk: string) => {
        if (body.length < BODY_LIMIT) body += chunk.slice(0, BODY_LIMIT - body.length);
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 502, body }));
      res.on('error', fail);
    };
    let req: http.ClientRequest;
    try {
      // HTTPS without verification, like the kubelet.
      req =
        probe.scheme === 'HTTPS'
          ? process
              .getBuiltinModule('node:https')
              .request({ ...options, rejectUnauthorized: false }, onResponse)
          : httpRequest(options, onResponse);
    } catch (err) {
      // A header Node refuses to send (the apiserver validates names; values may still be odd).
      fail(err as Error);
      return;
    }
    req.once('timeout', () => {
      req.destroy(new Error(`timed out after ${timeoutMs} ms`));
    });
    req.once('error', fail);
    req.end();
  });
}
