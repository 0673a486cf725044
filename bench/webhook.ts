// npm run bench:webhook — how fast the injector answers (a benchmark, not a test).
//
//  1. In process: reviewAdmission (decide → render → patch → base64) per pod,
//     p50/p99, for a typical pod and for a pod with 1,500 env vars (~64 KiB).
//  2. Over HTTPS with keep-alive: `outrigger serve` pinned to one core, wrk on the
//     other: maximum reviews per second.
//  3. Latency at a fixed 1,000 reviews/s (open loop, measured from each request's
//     scheduled time so a stall is not hidden), p50/p99, and the server's peak RSS.
//     The client is this process, moved to CPU 1 so it never shares the server's core.
//
// Needs wrk (apt-get install wrk) and taskset for parts 2 and 3.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultConfig } from '../src/config/load.ts';
import { readAdmissionRequest, reviewAdmission } from '../src/webhook/admission.ts';

const ROOT = new URL('..', import.meta.url).pathname;
const seconds = Number(process.env.BENCH_SECONDS ?? 10);

function review(pod: unknown) {
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: '8f1d2c3b-0000-4000-8000-000000000001',
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      namespace: 'shop',
      operation: 'CREATE',
      userInfo: { username: 'system:serviceaccount:kube-system:replicaset-controller' },
      object: pod,
    },
  };
}

/** A Deployment's pod as the apiserver sends it: defaults filled in, a token volume. */
const typicalPod = {
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: {
    generateName: 'checkout-7d9f8b6c5d-',
    namespace: 'shop',
    labels: { app: 'checkout', 'pod-template-hash': '7d9f8b6c5d', version: 'v3' },
    annotations: { 'kubectl.kubernetes.io/restartedAt': '2026-11-20T09:00:00Z' },
    ownerReferences: [
      {
        apiVersion: 'apps/v1',
        kind: 'ReplicaSet',
        name: 'checkout-7d9f8b6c5d',
        uid: 'a1',
        controller: true,
        blockOwnerDeletion: true,
      },
    ],
  },
  spec: {
    containers: [
      {
        name: 'checkout',
        image: 'registry.example/shop/checkout:3.4.1',
        ports: [{ containerPort: 8080, name: 'http', protocol: 'TCP' }],
        env: [
          { name: 'DB_HOST', value: 'postgres.shop.svc' },
          { name: 'LOG_LEVEL', value: 'info' },
        ],
        resources: { requests: { cpu: '200m', memory: '256Mi' }, limits: { memory: '512Mi' } },
        readinessProbe: {
          httpGet: { path: '/ready', port: 8080, scheme: 'HTTP' },
          periodSeconds: 5,
        },
        volumeMounts: [
          {
            name: 'kube-api-access-x1',
            mountPath: '/var/run/secrets/kubernetes.io/serviceaccount',
            readOnly: true,
          },
        ],
        terminationMessagePath: '/dev/termination-log',
        terminationMessagePolicy: 'File',
        imagePullPolicy: 'IfNotPresent',
      },
    ],
    volumes: [
      {
        name: 'kube-api-access-x1',
        projected: {
          defaultMode: 420,
          sources: [{ serviceAccountToken: { path: 'token', expirationSeconds: 3607 } }],
        },
      },
    ],
    restartPolicy: 'Always',
    terminationGracePeriodSeconds: 30,
    dnsPolicy: 'ClusterFirst',
    serviceAccountName: 'checkout',
    securityContext: {},
    schedulerName: 'default-scheduler',
    enableServiceLinks: true,
  },
};

const bigPod = structuredClone(typicalPod);
bigPod.spec.containers[0]!.env = Array.from({ length: 1500 }, (_, i) => ({
  name: `SETTING_${String(i).padStart(4, '0')}`,
  value: `value-${i}`,
}));

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

/**
 * p50/p99 in microseconds of reviewAdmission alone (decide → render → patch →
 * base64) and of the whole body-to-body path (JSON.parse of the request, the
 * review, JSON.stringify of the answer). The first 1,000 runs warm the JIT.
 */
function inProcess(label: string, pod: unknown, iterations: number) {
  const config = defaultConfig();
  const body = JSON.stringify(review(pod));
  const parsed = JSON.parse(body);
  const inject: number[] = [];
  const whole: number[] = [];
  const time = (f: () => unknown) => {
    const start = process.hrtime.bigint();
    f();
    return Number(process.hrtime.bigint() - start) / 1000;
  };
  for (let i = 0; i < iterations + 1000; i++) {
    const a = time(() => reviewAdmission(readAdmissionRequest(parsed), config, 'outrigger-system'));
    const b = time(() =>
      JSON.stringify(
        reviewAdmission(readAdmissionRequest(JSON.parse(body)), config, 'outrigger-system').review,
      ),
    );
    if (i >= 1000) {
      inject.push(a);
      whole.push(b);
    }
  }
  inject.sort((x, y) => x - y);
  whole.sort((x, y) => x - y);
  const row = {
    pod: label,
    bytes: body.length,
    p50_us: +percentile(inject, 50).toFixed(1),
    p99_us: +percentile(inject, 99).toFixed(1),
    with_json_p50_us: +percentile(whole, 50).toFixed(1),
    with_json_p99_us: +percentile(whole, 99).toFixed(1),
  };
  console.log(JSON.stringify({ part: 'in-process', ...row }));
  return row;
}

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const { port } = probe.address() as { port: number };
  await new Promise((r) => probe.close(r));
  return port;
}

async function startServer(dir: string) {
  const port = await freePort();
  const server = spawn(
    'taskset',
    [
      '-c',
      '0',
      process.execPath,
      // The image's entrypoint flag (images/catalog.ts).
      '--single-threaded-gc',
      join(ROOT, 'dist/src/cli/main.js'),
      'serve',
      '--host',
      '127.0.0.1',
      '--port',
      String(port),
      '--certs-dir',
      dir,
      // Production logging: one JSON line per admission (to /dev/null here).
      '--log-level',
      'info',
    ],
    // The image's NODE_OPTIONS (images/catalog.ts), so the memory measured is the shipped one.
    {
      stdio: ['ignore', 'ignore', 'inherit'],
      env: { ...process.env, NODE_OPTIONS: '--max-semi-space-size=8' },
    },
  );
  // taskset execs node, so the child's pid is the server's.
  const pid = server.pid as number;
  for (let i = 0; i < 100; i++) {
    const probe = spawnSync('curl', [
      '-sk',
      '-o',
      '/dev/null',
      '-w',
      '%{http_code}',
      `https://127.0.0.1:${port}/readyz`,
    ]);
    if (probe.stdout.toString() === '200') return { server, pid, port };
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('outrigger serve did not become ready');
}

function rssKiB(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith(field));
  return Number(line?.split(/\s+/)[1]);
}

async function fixedRate(port: number, ca: string, rate: number, durationS: number) {
  const agent = new Agent({ keepAlive: true, maxSockets: 64, ca, servername: 'localhost' });
  const body = JSON.stringify(review(typicalPod));
  /** One review; resolves with its HTTP status, or 0 on a connection error. */
  const post = () =>
    new Promise<number>((resolve) => {
      const req = request(
        {
          host: '127.0.0.1',
          port,
          path: '/inject',
          method: 'POST',
          agent,
          headers: { 'content-type': 'application/json' },
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        },
      );
      req.on('error', () => resolve(0));
      req.end(body);
    });
  // Open the connections first, so TLS handshakes are not counted as review latency.
  await Promise.all(Array.from({ length: 64 }, post));
  const latencies: number[] = [];
  let errors = 0;
  const total = rate * durationS;
  const start = performance.now();
  const pending: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const scheduled = start + (i * 1000) / rate;
    const wait = scheduled - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    pending.push(
      post().then((status) => {
        if (status !== 200) errors++;
        latencies.push(performance.now() - scheduled);
      }),
    );
  }
  await Promise.all(pending);
  agent.destroy();
  latencies.sort((a, b) => a - b);
  return {
    sent: total,
    errors,
    p50_ms: +percentile(latencies, 50).toFixed(2),
    p99_ms: +percentile(latencies, 99).toFixed(2),
  };
}

/** wrk at saturation from CPU 1 (after a 2 s warm-up): requests per second and non-2xx count. */
function saturate(url: string, script: string): { rps: number; non2xx: number } {
  const run = (duration: string) =>
    spawnSync('taskset', [
      '-c',
      '1',
      'wrk',
      '-t1',
      '-c32',
      `-d${duration}`,
      '-s',
      script,
      url,
    ]).stdout.toString();
  run('2s');
  const out = run(`${seconds}s`);
  return {
    rps: Math.round(Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1])),
    non2xx: Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0),
  };
}

/**
 * The platform's ceiling, measured in the same run: node:https on the same core
 * with the same TLS certificate, reading the same request and writing a
 * response of the same bytes, with no routing, parsing or injection.
 */
async function startFloorServer(dir: string, response: string) {
  const port = await freePort();
  writeFileSync(join(dir, 'response.json'), response);
  const code = `
    const fs = require('node:fs');
    const body = fs.readFileSync(${JSON.stringify(join(dir, 'response.json'))});
    const server = require('node:https').createServer({
      cert: fs.readFileSync(${JSON.stringify(join(dir, 'tls.crt'))}),
      key: fs.readFileSync(${JSON.stringify(join(dir, 'tls.key'))}),
      minVersion: 'TLSv1.2',
    }, (req, res) => {
      req.resume();
      req.on('end', () => { res.writeHead(200, { 'content-type': 'application/json' }); res.end(body); });
    });
    // As outrigger serve does, so the fixed-rate client's idle connections are not closed under it.
    server.keepAliveTimeout = 65000;
    server.listen(${port}, '127.0.0.1');`;
  const server = spawn('taskset', ['-c', '0', process.execPath, '-e', code], { stdio: 'ignore' });
  await new Promise((r) => setTimeout(r, 1000));
  return { server, port };
}

async function main() {
  console.log(`# bench:webhook — node ${process.version}, ${seconds}s per HTTPS run`);
  const typical = inProcess('typical', typicalPod, 20_000);
  const big = inProcess('1500-env', bigPod, 2_000);

  const haveWrk =
    spawnSync('sh', ['-c', 'command -v wrk && command -v taskset && command -v curl']).status === 0;
  if (!haveWrk) {
    console.log(
      '# wrk, taskset or curl missing (apt-get install wrk util-linux curl): skipping the HTTPS parts',
    );
    return;
  }
  // From here on this process is a load generator (the fixed-rate client): keep
  // it, all its threads included, on CPU 1 with wrk, off the server's core.
  spawnSync('taskset', ['-a', '-p', '-c', '1', String(process.pid)], { stdio: 'ignore' });
  const dir = mkdtempSync(join(tmpdir(), 'outrigger-bench-'));
  const { server, pid, port } = await startServer(dir);
  try {
    const script = join(dir, 'post.lua');
    const body = JSON.stringify(review(typicalPod));
    writeFileSync(
      script,
      `wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\nwrk.body = [[${body}]]\n`,
    );
    const { rps, non2xx } = saturate(`https://127.0.0.1:${port}/inject`, script);
    const saturation = {
      reviews_per_s: rps,
      non_2xx: non2xx,
      rss_mib: +(rssKiB(pid, 'VmRSS') / 1024).toFixed(1),
    };
    console.log(JSON.stringify({ part: 'https-saturation-one-core', ...saturation }));

    const ca = readFileSync(join(dir, 'ca.crt'), 'utf8');
    const fixed = await fixedRate(port, ca, 1000, seconds);
    const peak = +(rssKiB(pid, 'VmHWM') / 1024).toFixed(1);
    console.log(JSON.stringify({ part: 'https-fixed-1000-per-s', ...fixed, peak_rss_mib: peak }));
    server.kill('SIGTERM');

    const answer = spawnSync('curl', [
      '-s',
      '--cacert',
      join(dir, 'ca.crt'),
      '-H',
      'content-type: application/json',
      '--data-binary',
      body,
      `https://127.0.0.1:${port}/inject`,
    ]);
    const floor = await startFloorServer(dir, answer.stdout.toString() || '{}');
    const ceiling = saturate(`https://127.0.0.1:${floor.port}/`, script);
    // The same open-loop client against the bare server: the latency this client
    // and machine show with no webhook at all, to read the p99 above against.
    const floorFixed = await fixedRate(floor.port, ca, 1000, seconds);
    floor.server.kill('SIGTERM');
    console.log(
      JSON.stringify({ part: 'https-floor-node-https-same-bytes', ...ceiling, fixed: floorFixed }),
    );

    console.log('\n| measure | result | target |');
    console.log('|---|---|---|');
    console.log(
      `| in-process, typical pod (${typical.bytes} B review) | p50 ${typical.p50_us} µs, p99 ${typical.p99_us} µs (with JSON parse and stringify: p50 ${typical.with_json_p50_us} µs, p99 ${typical.with_json_p99_us} µs) | ≤ 50 µs |`,
    );
    console.log(
      `| in-process, 1,500 env vars (${(big.bytes / 1024).toFixed(0)} KiB review) | p50 ${(big.p50_us / 1000).toFixed(3)} ms, p99 ${(big.p99_us / 1000).toFixed(3)} ms (with JSON: p50 ${(big.with_json_p50_us / 1000).toFixed(3)} ms, p99 ${(big.with_json_p99_us / 1000).toFixed(3)} ms) | ≤ 5 ms |`,
    );
    console.log(
      `| HTTPS keep-alive, one core, wrk -c32 | ${saturation.reviews_per_s} reviews/s (${(saturation.reviews_per_s / ceiling.rps).toFixed(2)}× bare node:https's ${ceiling.rps}/s with the same bytes) | ≥ 5,000/s |`,
    );
    console.log(
      `| HTTPS at a fixed 1,000 reviews/s | p50 ${fixed.p50_ms} ms, p99 ${fixed.p99_ms} ms, ${fixed.errors} errors (bare node:https with the same client: p50 ${floorFixed.p50_ms} ms, p99 ${floorFixed.p99_ms} ms) | p99 ≤ 5 ms |`,
    );
    console.log(`| server peak RSS under that load | ${peak} MiB | ≤ 150 MiB |`);
  } finally {
    server.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
