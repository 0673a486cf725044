// npm run bench:proxy — outrigger-proxy against nginx, HAProxy and a direct
// connection, in one run, on the real sidecar path (a benchmark, not a test).
//
// Method (../shared/bench/README.md): a "client" network namespace calls the
// "pod" namespace's IP on the app port; inside the pod, outrigger-iptables
// REDIRECTs that port to 15006, where the sidecar under test listens and
// forwards to the app. nginx and HAProxy play the sidecar with a fixed
// upstream on 127.0.0.1; outrigger-proxy finds it by SO_ORIGINAL_DST and
// connects to the pod IP it was sent to (over lo all the same). "direct" is the
// same call with no rule; "node-relay" is a bare node:net relay on the same Node
// and flags as outrigger-proxy, the floor of what the runtime costs. The sidecar runs alone on CPU 0; wrk and the app on CPU 1.
//
// Per target: wrk -t1 -c32 for BENCH_SECONDS (default 8) after a 2 s warm-up, with
// the small body and with a 1 MiB body; then an open-loop 1,000 req/s run for
// p50/p99; the sidecar's CPU seconds per 1,000 requests (utime+stime from
// /proc/PID/stat) and its peak RSS (VmHWM). BENCH_REPEATS (default 3) runs
// (BENCH_TARGETS=outrigger,node-relay narrows them; nginx always runs); each
// figure is the median of its repeats, reported as ratios to nginx and to direct.
// While working: BENCH_LOADS=small runs the small-body load alone,
// BENCH_BASELINE=DIR adds outrigger@base and policy@base from another built
// checkout, and BENCH_NODE_OPTIONS adds flags to the sidecar's Node.
//
// The L7 path (issue 14): "policy" is outrigger-proxy with a policy file that
// declares the app port `protocol: http` with 50 routes, each matching one
// value of `x-tenant` exactly (to the original destination), and "nginx-map"
// is nginx choosing its upstream with the equivalent `map $http_x_tenant`
// (50 entries, no match → 404). Their load sends `x-tenant: t50`, the last of
// the 50 routes: for a table scanned in order the worst case. The two run
// back to back in each repeat and are reported as ratios to each other.
//
// Needs root, iproute2, iptables, nginx-light, haproxy, wrk (apt-get install).
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = new URL('..', import.meta.url).pathname;
const SHARED = join(ROOT, '../shared/bench');
const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const REPEATS = Number(process.env.BENCH_REPEATS ?? 3);
const RATE = 1000;
const NS = { client: `obench-${process.pid}-client`, pod: `obench-${process.pid}-pod` };
const POD_IP = '192.0.2.2';
const CLIENT_IP = '192.0.2.1';
const APP_PORT = 18080;
const SIDECAR_PORT = 15006;
const NODE = process.execPath;

type Target =
  | 'direct'
  | 'nginx'
  | 'haproxy'
  | 'node-relay'
  | 'outrigger'
  | 'nginx-map'
  | 'policy'
  | 'outrigger@base'
  | 'policy@base';
/**
 * BENCH_BASELINE=DIR (a built checkout of another commit) adds outrigger@base
 * and policy@base (name them in BENCH_TARGETS to pick them): the same two
 * targets run from DIR's dist/, each right after its own, so a change is
 * measured against its parent in one run.
 */
const BASELINE = process.env.BENCH_BASELINE;
const ALL_TARGETS: Target[] = [
  'direct',
  'nginx',
  'haproxy',
  'node-relay',
  'outrigger',
  ...(BASELINE === undefined ? [] : (['outrigger@base'] as const)),
  'nginx-map',
  'policy',
  ...(BASELINE === undefined ? [] : (['policy@base'] as const)),
];
/** Routes in the policy target's table, and nginx-map's map. */
const POLICY_ROUTES = 50;
/** The header the L7 targets' load carries: the last route. */
const TENANT_HEADER = `x-tenant: t${POLICY_ROUTES}`;
const L7_TARGETS: readonly Target[] = ['nginx-map', 'policy', 'policy@base'];
/**
 * BENCH_LOADS=small narrows each target's run to the small-body load (the
 * one the CPU-per-request figures come from); default small,big,latency.
 */
const LOADS = new Set((process.env.BENCH_LOADS ?? 'small,big,latency').split(','));
/**
 * BENCH_TARGETS=a,b narrows a run (for quick comparisons while working);
 * nginx always runs, since every ratio is taken against it.
 */
const TARGETS: Target[] = process.env.BENCH_TARGETS
  ? ALL_TARGETS.filter((t) => t === 'nginx' || process.env.BENCH_TARGETS?.split(',').includes(t))
  : ALL_TARGETS;

/**
 * Image flags for outrigger-proxy (images/catalog.ts); node-relay runs with the
 * same. BENCH_NODE_OPTIONS adds to them (--cpu-prof --cpu-prof-dir=DIR for a profile).
 */
const PROXY_NODE_OPTIONS = [
  '--max-semi-space-size=2 --max-old-space-size=64',
  process.env.BENCH_NODE_OPTIONS,
]
  .filter(Boolean)
  .join(' ');

/**
 * The floor for a sidecar written for Node: a node:net relay to a fixed
 * upstream that moves bytes the way outrigger-proxy does (upstream read into
 * one reused buffer, reading paused while a write is pending, client bytes
 * piped), with no HTTP parsing and no statistics, on the same Node and flags.
 */
const NODE_RELAY = `
  const net = require('node:net');
  net.createServer({ allowHalfOpen: true, noDelay: true }, (client) => {
    const upstream = net.connect({
      host: '127.0.0.1', port: ${APP_PORT}, allowHalfOpen: true, noDelay: true,
      onread: { buffer: Buffer.allocUnsafeSlow(65536), callback: (n, buffer) => {
        client.write(buffer.subarray(0, n), written);
        if (client.writableLength > 0) {
          paused = true;
          upstream.pause();
        }
      } },
    });
    // Resume once the pending write is done ('drain' only follows a write that reached 64 KiB).
    let paused = false;
    function written() {
      if (paused && client.writableLength === 0) {
        paused = false;
        upstream.resume();
      }
    }
    client.pipe(upstream);
    upstream.on('end', () => client.end());
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
  }).listen(${SIDECAR_PORT});
`;

interface Run {
  smallRps: number;
  bigRps: number;
  p50Ms: number;
  p99Ms: number;
  cpuSecPer1k: number | undefined;
  peakRssMiB: number | undefined;
}

const sh = (cmd: string, args: string[]) =>
  execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
const inNs = (ns: string, cmd: string, args: string[]) =>
  sh('ip', ['netns', 'exec', ns, cmd, ...args]);

function requireTools(): void {
  if (process.getuid?.() !== 0)
    throw new Error('bench:proxy needs root (network namespaces and iptables)');
  for (const tool of ['ip', 'iptables', 'nginx', 'haproxy', 'wrk', 'taskset', 'setpriv']) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) {
      throw new Error(
        `bench:proxy needs ${tool}: apt-get install iproute2 iptables nginx-light haproxy wrk util-linux`,
      );
    }
  }
}

function setupNetwork(): void {
  teardownNetwork();
  sh('ip', ['netns', 'add', NS.client]);
  sh('ip', ['netns', 'add', NS.pod]);
  sh('ip', [
    'link',
    'add',
    'obc0',
    'netns',
    NS.client,
    'type',
    'veth',
    'peer',
    'name',
    'obp0',
    'netns',
    NS.pod,
  ]);
  inNs(NS.client, 'ip', ['addr', 'add', `${CLIENT_IP}/24`, 'dev', 'obc0']);
  inNs(NS.pod, 'ip', ['addr', 'add', `${POD_IP}/24`, 'dev', 'obp0']);
  for (const [ns, dev] of [
    [NS.client, 'obc0'],
    [NS.pod, 'obp0'],
  ] as const) {
    inNs(ns, 'ip', ['link', 'set', 'lo', 'up']);
    inNs(ns, 'ip', ['link', 'set', dev, 'up']);
  }
}

function teardownNetwork(): void {
  for (const ns of Object.values(NS)) spawnSync('ip', ['netns', 'delete', ns], { stdio: 'ignore' });
}

/** The real init container's rules, capturing only the app port, so the path is the injected one. */
function capture(on: boolean): void {
  const cli = join(ROOT, 'dist/src/iptables/main.js');
  if (on)
    inNs(NS.pod, NODE, [
      cli,
      '-p',
      '15001',
      '-z',
      String(SIDECAR_PORT),
      '-u',
      '1337',
      '-g',
      '1337',
      '-m',
      'REDIRECT',
      '-b',
      String(APP_PORT),
      '-i',
      '',
    ]);
  else inNs(NS.pod, NODE, [cli, '--cleanup']);
}

function start(
  ns: string,
  cpu: number,
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv = {},
): ChildProcess {
  const child = spawn('ip', ['netns', 'exec', ns, 'taskset', '-c', String(cpu), cmd, ...args], {
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, ...env },
  });
  return child;
}

async function waitForHttp(port: number, path = '/', header?: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const probe = spawnSync('ip', [
      'netns',
      'exec',
      NS.client,
      'curl',
      '-sf',
      '-o',
      '/dev/null',
      ...(header === undefined ? [] : ['-H', header]),
      `http://${POD_IP}:${port}${path}`,
    ]);
    if (probe.status === 0) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`nothing answered on ${POD_IP}:${port}${path}`);
}

function stop(child: ChildProcess | undefined, pidFile?: string): void {
  if (pidFile) {
    try {
      process.kill(Number(readFileSync(pidFile, 'utf8').trim()), 'SIGTERM');
    } catch {}
  }
  child?.kill('SIGTERM');
}

function procStat(pid: number): { cpuSeconds: number } {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  const ticks = Number(fields[11]) + Number(fields[12]); // utime + stime, after the comm field
  return { cpuSeconds: ticks / 100 };
}

function peakRssMiB(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('VmHWM'));
  return Number(line?.split(/\s+/)[1]) / 1024;
}

function wrk(path: string, seconds: number, header?: string): number {
  const out = inNs(NS.client, 'taskset', [
    '-c',
    '1',
    'wrk',
    '-t1',
    '-c32',
    `-d${seconds}s`,
    ...(header === undefined ? [] : ['-H', header]),
    `http://${POD_IP}:${APP_PORT}${path}`,
  ]);
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
  const errors = /Socket errors: (.*)/.exec(out)?.[1];
  if (non2xx > 0 || errors)
    console.log(`#   wrk ${path}: non-2xx ${non2xx}, socket errors ${errors ?? 0}`);
  return Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
}

/** Open loop at RATE req/s over keep-alive connections; latency from each request's scheduled time. */
function fixedRate(seconds: number, header?: string): { p50: number; p99: number } {
  const headers = header === undefined ? {} : { [header.split(': ')[0]!]: header.split(': ')[1] };
  const script = `
    const http = require('node:http');
    const agent = new http.Agent({ keepAlive: true, maxSockets: 32 });
    const rate = ${RATE}, total = rate * ${seconds}, lat = [];
    let done = 0, errors = 0;
    const start = performance.now();
    function one(i) {
      const scheduled = start + (i * 1000) / rate;
      const req = http.get({ host: '${POD_IP}', port: ${APP_PORT}, path: '/', agent, headers: ${JSON.stringify(headers)} }, (res) => {
        res.resume();
        res.on('end', () => { lat.push(performance.now() - scheduled); finish(); });
      });
      req.on('error', () => { errors++; finish(); });
    }
    function finish() {
      if (++done < total) return;
      lat.sort((a, b) => a - b);
      const q = (p) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))];
      console.log(JSON.stringify({ p50: q(0.5), p99: q(0.99), errors }));
      agent.destroy();
    }
    let i = 0;
    (function tick() {
      const now = performance.now();
      while (i < total && start + (i * 1000) / rate <= now) one(i++);
      if (i < total) setTimeout(tick, 1);
    })();
  `;
  const out = inNs(NS.client, 'taskset', ['-c', '1', NODE, '-e', script]);
  return JSON.parse(out);
}

async function startSidecar(
  target: Target,
  dir: string,
): Promise<{ child?: ChildProcess; pid?: number; pidFile?: string }> {
  if (target === 'direct') return {};
  if (target === 'nginx') {
    const conf = readFileSync(join(SHARED, 'nginx-proxy.conf'), 'utf8')
      .replace('/tmp/lab-nginx-proxy.pid', join(dir, 'nginx-proxy.pid'))
      .replace('/tmp/lab-nginx-proxy.err', join(dir, 'nginx-proxy.err'))
      .replace('listen 127.0.0.1:18081', `listen ${SIDECAR_PORT}`);
    writeFileSync(join(dir, 'nginx-proxy.conf'), conf);
    start(NS.pod, 0, 'nginx', ['-c', join(dir, 'nginx-proxy.conf'), '-g', 'daemon off;']);
    await waitForHttp(SIDECAR_PORT);
    const master = Number(readFileSync(join(dir, 'nginx-proxy.pid'), 'utf8'));
    const worker = Number(
      sh('pgrep', ['-P', String(master)])
        .trim()
        .split('\n')[0],
    );
    return { pid: worker, pidFile: join(dir, 'nginx-proxy.pid') };
  }
  if (target === 'nginx-map') {
    writeFileSync(join(dir, 'nginx-map.conf'), nginxMapConfig(dir));
    start(NS.pod, 0, 'nginx', ['-c', join(dir, 'nginx-map.conf'), '-g', 'daemon off;']);
    await waitForHttp(SIDECAR_PORT, '/', TENANT_HEADER);
    const master = Number(readFileSync(join(dir, 'nginx-map.pid'), 'utf8'));
    const worker = Number(
      sh('pgrep', ['-P', String(master)])
        .trim()
        .split('\n')[0],
    );
    return { pid: worker, pidFile: join(dir, 'nginx-map.pid') };
  }
  if (target === 'haproxy') {
    const conf = readFileSync(join(SHARED, 'haproxy.cfg'), 'utf8').replace(
      'bind 127.0.0.1:18082',
      `bind :${SIDECAR_PORT}`,
    );
    writeFileSync(join(dir, 'haproxy.cfg'), conf);
    const child = start(NS.pod, 0, 'haproxy', ['-db', '-f', join(dir, 'haproxy.cfg')]);
    await waitForHttp(SIDECAR_PORT);
    return { child, pid: child.pid };
  }
  if (target === 'node-relay') {
    const child = start(NS.pod, 0, NODE, ['-e', NODE_RELAY], { NODE_OPTIONS: PROXY_NODE_OPTIONS });
    await waitForHttp(SIDECAR_PORT);
    return { child, pid: child.pid };
  }
  const child = start(
    NS.pod,
    0,
    'setpriv',
    [
      '--reuid=1337',
      '--regid=1337',
      '--clear-groups',
      NODE,
      join(target.endsWith('@base') ? BASELINE! : ROOT, 'dist/proxy/src/main.js'),
    ],
    // As the image runs it (images/catalog.ts): NODE_OPTIONS only take effect at start.
    {
      OUTRIGGER_LOG_LEVEL: 'warn',
      NODE_OPTIONS: PROXY_NODE_OPTIONS,
      ...(target.startsWith('policy') ? { OUTRIGGER_POLICY_FILE: writePolicy(dir) } : {}),
    },
  );
  // A direct call to 15006 has no original destination to go to; ask its health port.
  await waitForHttp(15021, '/healthz/ready');
  return { child, pid: child.pid };
}

/** The policy target's document: POLICY_ROUTES exact matches on x-tenant, to the original destination. */
function writePolicy(dir: string): string {
  const routes = Array.from(
    { length: POLICY_ROUTES },
    (_, i) =>
      `      - name: tenant-${i + 1}\n        match: {headers: [{name: x-tenant, exact: t${i + 1}}]}\n`,
  ).join('');
  const file = join(dir, 'policy.yaml');
  writeFileSync(
    file,
    `apiVersion: outrigger.dev/v1alpha1\nkind: TrafficPolicy\nlisteners:\n  - port: ${APP_PORT}\n    direction: inbound\n    protocol: http\n    routes:\n${routes}`,
  );
  return file;
}

/** nginx-proxy.conf choosing its upstream by the equivalent map: 50 tenants, anything else 404. */
function nginxMapConfig(dir: string): string {
  const entries = Array.from({ length: POLICY_ROUTES }, (_, i) => `    t${i + 1} app;\n`).join('');
  return readFileSync(join(SHARED, 'nginx-proxy.conf'), 'utf8')
    .replace('/tmp/lab-nginx-proxy.pid', join(dir, 'nginx-map.pid'))
    .replace('/tmp/lab-nginx-proxy.err', join(dir, 'nginx-map.err'))
    .replace('listen 127.0.0.1:18081', `listen ${SIDECAR_PORT}`)
    .replace(
      '  server {',
      `  map $http_x_tenant $tenant_upstream {\n    default "";\n${entries}  }\n  server {`,
    )
    .replace(
      'proxy_pass http://app;',
      'if ($tenant_upstream = "") { return 404; }\n      proxy_pass http://$tenant_upstream;',
    );
}

async function measure(target: Target, dir: string): Promise<Run> {
  const sidecar = await startSidecar(target, dir);
  capture(target !== 'direct');
  const header = L7_TARGETS.includes(target) ? TENANT_HEADER : undefined;
  try {
    await waitForHttp(APP_PORT, '/', header);
    wrk('/', 2, header); // warm-up (JIT, connection pools)
    const before = sidecar.pid ? procStat(sidecar.pid).cpuSeconds : 0;
    const smallRps = wrk('/', SECONDS, header);
    const after = sidecar.pid ? procStat(sidecar.pid).cpuSeconds : 0;
    const cpuSecPer1k = sidecar.pid ? ((after - before) / (smallRps * SECONDS)) * 1000 : undefined;
    let bigRps = Number.NaN;
    if (LOADS.has('big')) {
      wrk('/1m', 2, header);
      bigRps = wrk('/1m', SECONDS, header);
    }
    const latency = LOADS.has('latency') ? fixedRate(SECONDS, header) : { p50: NaN, p99: NaN };
    const peak = sidecar.pid ? peakRssMiB(sidecar.pid) : undefined;
    return {
      smallRps,
      bigRps,
      p50Ms: latency.p50,
      p99Ms: latency.p99,
      cpuSecPer1k,
      peakRssMiB: peak,
    };
  } finally {
    capture(false);
    stop(sidecar.child, sidecar.pidFile);
    await new Promise((r) => setTimeout(r, 500));
  }
}

const median = (values: number[]) =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;
const fmt = (n: number | undefined, digits = 0) =>
  n === undefined || Number.isNaN(n) ? '—' : n.toFixed(digits);

async function main() {
  requireTools();
  const dir = mkdtempSync(join(tmpdir(), 'outrigger-bench-proxy-'));
  execFileSync('chmod', ['755', dir]);
  writeFileSync(join(dir, '1m.bin'), Buffer.alloc(1024 * 1024, 0x61));
  const backend = readFileSync(join(SHARED, 'nginx-backend.conf'), 'utf8')
    .replace('/tmp/lab-nginx-backend.pid', join(dir, 'nginx-backend.pid'))
    .replace('/tmp/lab-nginx-backend.err', join(dir, 'nginx-backend.err'))
    // Reachable on the pod IP (direct, outrigger-proxy) and on 127.0.0.1 (the fixed-upstream
    // sidecars); plus a 1 MiB body.
    .replace('listen 127.0.0.1:18080', `listen ${APP_PORT}`)
    .replace('location / {', `location = /1m { alias ${join(dir, '1m.bin')}; }\n    location / {`);
  writeFileSync(join(dir, 'nginx-backend.conf'), backend);
  setupNetwork();
  const runs = new Map<Target, Run[]>(TARGETS.map((t) => [t, []]));
  try {
    start(NS.pod, 1, 'nginx', ['-c', join(dir, 'nginx-backend.conf'), '-g', 'daemon off;']);
    await waitForHttp(APP_PORT);
    console.log(
      `# bench:proxy — ${REPEATS} runs × ${TARGETS.join(', ')}; ${SECONDS}s per load; node ${process.version}`,
    );
    for (let r = 0; r < REPEATS; r++) {
      for (const target of TARGETS) {
        const run = await measure(target, dir);
        runs.get(target)?.push(run);
        console.log(JSON.stringify({ repeat: r + 1, target, ...run }));
      }
    }
  } finally {
    try {
      process.kill(Number(readFileSync(join(dir, 'nginx-backend.pid'), 'utf8').trim()), 'SIGTERM');
    } catch {}
    await new Promise((r) => setTimeout(r, 300));
    teardownNetwork();
    rmSync(dir, { recursive: true, force: true });
  }

  // Each figure is the median of its repeats, taken metric by metric: one
  // latency spike in one run does not decide a target's whole row.
  const medianRun = (t: Target): Run => {
    const list = runs.get(t) ?? [];
    const of = (f: (r: Run) => number | undefined) => {
      const values = list.map(f).filter((v): v is number => v !== undefined);
      return values.length > 0 ? median(values) : undefined;
    };
    return {
      smallRps: of((r) => r.smallRps) as number,
      bigRps: of((r) => r.bigRps) as number,
      p50Ms: of((r) => r.p50Ms) as number,
      p99Ms: of((r) => r.p99Ms) as number,
      cpuSecPer1k: of((r) => r.cpuSecPer1k),
      peakRssMiB: of((r) => r.peakRssMiB),
    };
  };
  const table = new Map(TARGETS.map((t) => [t, medianRun(t)]));
  const nginx = table.get('nginx') as Run;
  const direct = table.get('direct') ?? ({ smallRps: Number.NaN } as Run);
  console.log(
    '\n| target | small req/s | ×nginx | ×direct | 1 MiB req/s | ×nginx | p50 ms @1k/s | p99 ms @1k/s | p99 ×nginx | CPU s / 1k req | peak RSS MiB |',
  );
  console.log('|---|---|---|---|---|---|---|---|---|---|---|');
  for (const [t, run] of table) {
    console.log(
      `| ${t} | ${fmt(run.smallRps)} | ${fmt(run.smallRps / nginx.smallRps, 2)} | ${fmt(run.smallRps / direct.smallRps, 2)} | ${fmt(run.bigRps)} | ${fmt(run.bigRps / nginx.bigRps, 2)} | ${fmt(run.p50Ms, 2)} | ${fmt(run.p99Ms, 2)} | ${fmt(run.p99Ms / nginx.p99Ms, 2)} | ${fmt(run.cpuSecPer1k, 4)} | ${fmt(run.peakRssMiB, 1)} |`,
    );
  }
  console.log(
    '\nTargets for outrigger: throughput ≥ 0.9× nginx; p99 at 1k/s ≤ 1.25× nginx; ≤ 0.03 CPU s per 1,000 requests; RSS ≤ 60 MiB.',
  );
  // Per repeat, the two of a pair ran back to back: their ratios are the figures to read.
  const ratios = (of: Target, to: Target) => {
    const a = runs.get(of);
    const b = runs.get(to);
    if (a === undefined || b === undefined || a.length === 0 || b.length === 0) return undefined;
    const pairs = b.map((m, i) => ({ m, p: a[i]! }));
    return {
      rps: pairs.map(({ m, p }) => p.smallRps / m.smallRps),
      cpu: pairs.map(({ m, p }) => (p.cpuSecPer1k ?? Number.NaN) / (m.cpuSecPer1k ?? Number.NaN)),
    };
  };
  const list = (values: number[]) =>
    `${values.map((r) => r.toFixed(2)).join(' / ')}× (median ${median(values).toFixed(2)}×`;
  const l7 = ratios('policy', 'nginx-map');
  if (l7 !== undefined) {
    console.log(
      `\npolicy (${POLICY_ROUTES} header routes, load on the last) against nginx-map, per repeat: throughput ${list(l7.rps)}, target ≥ 0.8×); CPU per request ${list(l7.cpu)}, target ≤ 1.3×)`,
    );
  }
  for (const t of ['outrigger', 'policy'] as const) {
    const base = ratios(t, `${t}@base`);
    if (base === undefined) continue;
    console.log(
      `${t} against ${t}@base (${BASELINE}), per repeat: throughput ${list(base.rps)}); CPU per request ${list(base.cpu)})`,
    );
  }
}

await main();
