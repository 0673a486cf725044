// Requests made from inside a pod: `kubectl exec` runs a small node script in
// the test app's container, so the request leaves from the pod's own network
// namespace (and through its proxy, when it is captured).
import { exec } from './harness.ts';

export interface Answer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export interface FetchOptions {
  method?: string;
  body?: string;
  headers?: Record<string, string>;
  /** The container to run in (default `app`). */
  container?: string;
}

/** node's own fetch, run in the pod; never throws for an HTTP status. */
export async function fetchFromPod(
  namespace: string,
  pod: string,
  url: string,
  options: FetchOptions = {},
): Promise<Answer> {
  const init = {
    method: options.method ?? 'GET',
    headers: options.headers ?? {},
    ...(options.body === undefined ? {} : { body: options.body }),
  };
  const script = `
    const r = await fetch(${JSON.stringify(url)}, ${JSON.stringify(init)});
    const body = await r.text();
    console.log(JSON.stringify({ status: r.status, headers: Object.fromEntries(r.headers), body }));
  `;
  const result = await runNode(namespace, pod, script, options.container);
  if (result.code !== 0) {
    throw new Error(
      `fetch ${url} from ${namespace}/${pod} failed: ${result.stderr}${result.stdout}`,
    );
  }
  return JSON.parse(result.stdout.trim().split('\n').pop()!) as Answer;
}

/** Runs an ES module script with the pod's node; returns its exit code and output. */
export function runNode(namespace: string, pod: string, script: string, container = 'app') {
  return exec(namespace, pod, container, ['node', '--input-type=module', '-e', script]);
}

/** Whether a TCP connection to host:port succeeds from inside the pod. */
export async function tcpConnects(
  namespace: string,
  pod: string,
  host: string,
  port: number,
): Promise<boolean> {
  const script = `
    import { connect } from 'node:net';
    const socket = connect({ host: ${JSON.stringify(host)}, port: ${port}, timeout: 3000 });
    socket.on('connect', () => { console.log('connected'); socket.destroy(); });
    socket.on('error', (e) => { console.log('error ' + e.code); });
    socket.on('timeout', () => { console.log('timeout'); socket.destroy(); });
  `;
  const result = await runNode(namespace, pod, script);
  return result.stdout.includes('connected');
}
