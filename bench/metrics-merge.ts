// node bench/metrics-merge.ts — what the metrics merge costs a proxy per
// scrape (a benchmark, not a test). A real proxy process (dist/, the image's
// NODE_OPTIONS) is scraped BENCH_SCRAPES times on :prometheus, once serving its
// own metrics only and once merging those of an app that serves prom-client's
// default metrics plus BENCH_APP_SERIES series of its own; the two run
// interleaved, BENCH_ROUNDS rounds. Reported per scrape: the proxy's CPU
// (utime + stime from /proc) and the bytes served, and the proxy's resident
// memory and used heap after the round; the merged/own ratio is the figure to
// read, since the machine is shared. RSS climbs with scrapes in both modes
// until V8 stops growing its heap (about 88 MiB after 2,000 here), the merged
// one sooner: compare RSS at a few thousand scrapes, not a few hundred. Hold `flock /tmp/outrigger-bench.lock` while it runs.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { Counter, collectDefaultMetrics, Registry } from 'prom-client';

const ROOT = path.resolve(import.meta.dirname, '..');
const SCRAPES = Number(process.env.BENCH_SCRAPES ?? 300);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const APP_SERIES = Number(process.env.BENCH_APP_SERIES ?? 500);
const CLOCK_TICKS = 100;

const registry = new Registry();
collectDefaultMetrics({ register: registry });
const counter = new Counter({
  name: 'app_items_total',
  help: 'Items',
  labelNames: ['item'],
  registers: [registry],
});
for (let i = 0; i < APP_SERIES; i++) counter.inc({ item: `item-${i}` }, i);
const app = http.createServer(async (_req, res) => {
  res.writeHead(200, { 'content-type': registry.contentType });
  res.end(await registry.metrics());
});
app.listen(0, '127.0.0.1');
await once(app, 'listening');
const appPort = (app.address() as AddressInfo).port;

async function startProxy(merge: boolean): Promise<{ child: ChildProcess; port: number }> {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    NODE_OPTIONS: '--max-semi-space-size=2 --max-old-space-size=64',
  };
  if (merge) env.OUTRIGGER_APP_METRICS = JSON.stringify({ port: appPort, path: '/metrics' });
  const child = spawn(
    path.join(ROOT, 'node_modules/.bin/node'),
    [
      path.join(ROOT, 'dist/proxy/src/main.js'),
      '--outbound-port=0',
      '--inbound-port=0',
      '--admin-port=0',
      '--health-port=0',
      '--prometheus-port=0',
    ],
    { env, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  const port = await new Promise<number>((resolve, reject) => {
    child.stderr?.on('data', (c: Buffer) => {
      stderr += c;
      const line = stderr.split('\n').find((l) => l.includes('"msg":"ready"'));
      if (line) resolve((JSON.parse(line) as { ports: { prometheus: number } }).ports.prometheus);
    });
    child.once('exit', (code) => reject(new Error(`proxy exited ${code}: ${stderr}`)));
  });
  return { child, port };
}

function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

function rssMiB(pid: number): number {
  const kib = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return Number(kib) / 1024;
}

async function round(merge: boolean) {
  const { child, port } = await startProxy(merge);
  const pid = child.pid as number;
  const url = `http://127.0.0.1:${port}/stats/prometheus`;
  for (let i = 0; i < 20; i++) await (await fetch(url)).text();
  const before = cpuSeconds(pid);
  let bytes = 0;
  let last = '';
  for (let i = 0; i < SCRAPES; i++) {
    last = await (await fetch(url)).text();
    bytes += last.length;
  }
  const cpuMs = ((cpuSeconds(pid) - before) * 1000) / SCRAPES;
  const rss = rssMiB(pid);
  // The proxy's own gauge: what the heap holds, beside what the process has been given.
  const heap = Number(/^nodejs_heap_size_used_bytes (\S+)$/m.exec(last)?.[1]) / 1048576;
  child.kill('SIGKILL');
  await once(child, 'exit');
  return { cpuMs, bytes: bytes / SCRAPES, rss, heap };
}

const median = (values: number[]) =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const own: Array<Awaited<ReturnType<typeof round>>> = [];
const merged: typeof own = [];
for (let r = 0; r < ROUNDS; r++) {
  own.push(await round(false));
  merged.push(await round(true));
  const [o, m] = [own.at(-1)!, merged.at(-1)!];
  console.log(
    `round ${r + 1}: own ${o.cpuMs.toFixed(3)} ms CPU/scrape, ${Math.round(o.bytes)} B, RSS ${o.rss.toFixed(1)} MiB, heap ${o.heap.toFixed(1)} MiB; ` +
      `merged ${m.cpuMs.toFixed(3)} ms CPU/scrape, ${Math.round(m.bytes)} B, RSS ${m.rss.toFixed(1)} MiB, heap ${m.heap.toFixed(1)} MiB`,
  );
}
const cpu = [median(own.map((o) => o.cpuMs)), median(merged.map((m) => m.cpuMs))];
const rss = [median(own.map((o) => o.rss)), median(merged.map((m) => m.rss))];
console.log(
  `median CPU per scrape: own ${cpu[0]!.toFixed(3)} ms, merged ${cpu[1]!.toFixed(3)} ms (${(cpu[1]! / cpu[0]!).toFixed(2)}x); ` +
    `RSS after: own ${rss[0]!.toFixed(1)} MiB, merged ${rss[1]!.toFixed(1)} MiB (+${(rss[1]! - rss[0]!).toFixed(1)} MiB)`,
);
app.close();
