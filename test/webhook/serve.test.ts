// `outrigger serve` driven over real TLS: valid reviews, every malformed case,
// a concurrent burst, a certificate swap mid-burst and a graceful SIGTERM.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { connect, type TLSSocket } from 'node:tls';
import jsonPatch from 'fast-json-patch';
import { generateCertificateAuthority, issueServingCertificate } from '../../src/certs/generate.ts';
import type { KeyPair } from '../../src/certs/key-pair.ts';

const CLI = new URL('../../src/cli/main.ts', import.meta.url).pathname;

interface Reply {
  status: number;
  body: string;
  json: () => Record<string, unknown>;
  serial?: string;
}

function review(pod: Record<string, unknown>, uid = crypto.randomUUID()) {
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid,
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      namespace: 'demo',
      operation: 'CREATE',
      object: pod,
    },
  };
}

const appPod = (annotations: Record<string, string> = {}) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { generateName: 'web-', annotations },
  spec: { containers: [{ name: 'web', image: 'nginx' }] },
});

describe('outrigger serve over HTTPS', () => {
  let dir: string;
  let ca: KeyPair;
  let server: ChildProcess;
  let port: number;
  let logs = '';

  const send = (
    path: string,
    body: string | Buffer | undefined,
    options: { method?: string; headers?: Record<string, string>; agent?: Agent } = {},
  ) =>
    new Promise<Reply>((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port,
          path,
          method: options.method ?? 'POST',
          ca: ca.cert,
          servername: 'localhost',
          agent: options.agent ?? false,
          headers: { 'content-type': 'application/json', ...options.headers },
        },
        (res) => {
          const chunks: Buffer[] = [];
          const serial = (res.socket as TLSSocket).getPeerCertificate?.().serialNumber;
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString();
            resolve({
              status: res.statusCode ?? 0,
              body: text,
              json: () => JSON.parse(text),
              serial,
            });
          });
        },
      );
      req.on('error', reject);
      req.end(body);
    });

  const post = (body: unknown, agent?: Agent) => send('/inject', JSON.stringify(body), { agent });

  /** Each sample of /metrics by its series (`name{labels}`), so a test reads what it changed. */
  const scrape = async (): Promise<Map<string, number>> => {
    const reply = await send('/metrics', undefined, { method: 'GET' });
    assert.equal(reply.status, 200);
    const samples = new Map<string, number>();
    for (const line of reply.body.split('\n')) {
      const match = /^(\S+) (\S+)$/.exec(line);
      if (match?.[1] && !line.startsWith('#')) samples.set(match[1], Number(match[2]));
    }
    return samples;
  };

  /** A new leaf from the same CA, written as Kubernetes writes mounted Secrets: renamed into place. */
  const swapLeaf = () => {
    const next = issueServingCertificate(ca, {
      dnsNames: ['localhost'],
      ipAddresses: ['127.0.0.1'],
    });
    writeFileSync(join(dir, 'tls.key.new'), next.key);
    writeFileSync(join(dir, 'tls.crt.new'), next.cert);
    renameSync(join(dir, 'tls.key.new'), join(dir, 'tls.key'));
    renameSync(join(dir, 'tls.crt.new'), join(dir, 'tls.crt'));
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'outrigger-serve-'));
    ca = generateCertificateAuthority();
    const leaf = issueServingCertificate(ca, {
      dnsNames: ['localhost'],
      ipAddresses: ['127.0.0.1'],
    });
    writeFileSync(join(dir, 'tls.crt'), leaf.cert);
    writeFileSync(join(dir, 'tls.key'), leaf.key);
    server = spawn(
      process.execPath,
      [
        CLI,
        'serve',
        '--host',
        '127.0.0.1',
        '--port',
        '0',
        '--tls-cert',
        join(dir, 'tls.crt'),
        '--tls-key',
        join(dir, 'tls.key'),
        '--request-timeout',
        '1500',
        '--monitoring-port',
        '0',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    server.stderr?.on('data', (c: Buffer) => {
      logs += c;
    });
    port = await new Promise<number>((resolve, reject) => {
      server.stdout?.on('data', (chunk: Buffer) => {
        logs += chunk;
        const match = /Server listening at https:\/\/127\.0\.0\.1:(\d+)/.exec(logs);
        if (match) resolve(Number(match[1]));
      });
      server.once('exit', (code) => reject(new Error(`serve exited with ${code}: ${logs}`)));
    });
  });

  after(() => {
    if (server.exitCode === null) server.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  test('a pod is injected: uid echoed, JSONPatch that applies to the pod sent', async () => {
    const sent = review(appPod());
    const reply = await post(sent);
    assert.equal(reply.status, 200);
    const { response } = reply.json() as { response: Record<string, unknown> };
    assert.equal(response.uid, sent.request.uid);
    assert.equal(response.allowed, true);
    assert.equal(response.patchType, 'JSONPatch');
    const patch = JSON.parse(Buffer.from(response.patch as string, 'base64').toString());
    const pod = jsonPatch.applyPatch(structuredClone(sent.request.object), patch, true, false)
      .newDocument as {
      spec: { initContainers: Array<{ name: string }> };
    };
    assert.deepEqual(
      pod.spec.initContainers.map((c) => c.name),
      ['outrigger-init', 'outrigger-proxy'],
    );
  });

  test('a review with escaped characters is read and injected', async () => {
    // Go's encoder writes &, < and > as \u0026, \u003c and \u003e, which is
    // also how a prototype-poisoning key would hide; such a body must still be read.
    const pod = appPod();
    const body = JSON.stringify(review(pod)).replace('"demo"', '"demo","note":"a\\u0026b"');
    assert.match(body, /\\u0026/);
    const reply = await send('/inject', body);
    assert.equal(reply.status, 200, reply.body);
    const { response } = JSON.parse(reply.body) as { response: { patchType?: string } };
    assert.equal(response.patchType, 'JSONPatch');
  });

  test('an opted-out pod is allowed with no patch', async () => {
    const reply = await post(review(appPod({ 'sidecar.outrigger.dev/inject': 'false' })));
    const { response } = reply.json() as { response: Record<string, unknown> };
    assert.equal(response.allowed, true);
    assert.equal(response.patch, undefined);
    assert.equal(response.patchType, undefined);
  });

  test('/inject/pod-security/<level> injects the same and warns why the level refuses the pod', async () => {
    const plain = (await post(review(appPod()))).json() as { response: Record<string, unknown> };
    assert.equal(plain.response.warnings, undefined, '/inject gives no warning');
    for (const level of ['baseline', 'restricted']) {
      const reply = await send(`/inject/pod-security/${level}`, JSON.stringify(review(appPod())));
      assert.equal(reply.status, 200, reply.body);
      const { response } = reply.json() as {
        response: { allowed: boolean; patch?: string; warnings?: string[] };
      };
      assert.equal(response.allowed, true);
      assert.equal(response.patch, plain.response.patch, 'the same patch as /inject');
      assert.match(
        response.warnings?.[0] ?? '',
        new RegExp(`namespace demo enforces Pod Security "${level}".*outrigger-init.*NET_ADMIN`),
      );
      assert.match(response.warnings?.[1] ?? '', /enforce=privileged/);
    }
    // A pod that is not injected adds nothing the level could refuse: no warning.
    const optedOut = {
      ...appPod(),
      metadata: { labels: { 'sidecar.outrigger.dev/inject': 'false' } },
    };
    const skipped = await send('/inject/pod-security/baseline', JSON.stringify(review(optedOut)));
    const { response: skippedResponse } = skipped.json() as { response: Record<string, unknown> };
    assert.equal(skippedResponse.patch, undefined);
    assert.equal(skippedResponse.warnings, undefined);
    const unknown = await send('/inject/pod-security/privileged', JSON.stringify(review(appPod())));
    assert.equal(unknown.status, 404);
  });

  test('a bad override annotation is refused, naming the annotation and the value', async () => {
    const reply = await post(
      review(appPod({ 'traffic.sidecar.outrigger.dev/excludeInboundPorts': '70000' })),
    );
    const { response } = reply.json() as {
      response: { allowed: boolean; status: { message: string } };
    };
    assert.equal(response.allowed, false);
    assert.match(response.status.message, /traffic\.sidecar\.outrigger\.dev\/excludeInboundPorts/);
    assert.match(response.status.message, /"70000"/);
  });

  test('an unknown key under our prefixes is a warning, and the pod is still injected', async () => {
    const reply = await post(
      review(
        appPod({
          'sidecar.outrigger.dev/futureSetting': 'on',
          'sidecar.outrigger.dev/proxycpu': '1',
        }),
      ),
    );
    const { response } = reply.json() as {
      response: { allowed: boolean; patch?: string; warnings?: string[] };
    };
    assert.equal(response.allowed, true);
    assert.ok(response.patch, 'the pod is injected');
    assert.equal(response.warnings?.length, 2);
    assert.match(response.warnings?.[0] ?? '', /sidecar\.outrigger\.dev\/futureSetting .*ignored/);
    assert.match(response.warnings?.[1] ?? '', /did you mean sidecar\.outrigger\.dev\/proxyCPU\?/);
  });

  test('a pod that already carries Istio’s sidecar is allowed untouched', async () => {
    const pod = appPod({ 'sidecar.istio.io/status': '{"containers":["istio-proxy"]}' });
    pod.spec.containers.push({ name: 'istio-proxy', image: 'istio/proxyv2' });
    const answer = (await post(review(pod)).then((r) => r.json())) as {
      response: { allowed: boolean; patch?: string };
    };
    assert.equal(answer.response.allowed, true);
    assert.equal(answer.response.patch, undefined);
  });

  test('an app port on a proxy port is refused, or only warned when excluded from capture', async () => {
    const withPort = (annotations: Record<string, string>) => {
      const pod = appPod(annotations);
      (pod.spec.containers[0] as Record<string, unknown>).ports = [{ containerPort: 15001 }];
      return pod;
    };
    const refused = (await post(review(withPort({}))).then((r) => r.json())) as {
      response: { allowed: boolean; status: { message: string } };
    };
    assert.equal(refused.response.allowed, false);
    assert.match(
      refused.response.status.message,
      /port 15001, which the proxy uses \(outbound capture\)/,
    );
    const warned = (await post(
      review(withPort({ 'traffic.sidecar.outrigger.dev/excludeInboundPorts': '15001' })),
    ).then((r) => r.json())) as {
      response: { allowed: boolean; patch?: string; warnings?: string[] };
    };
    assert.equal(warned.response.allowed, true);
    assert.ok(warned.response.patch);
    assert.match(
      warned.response.warnings?.[0] ?? '',
      /port 15001, the proxy's outbound capture port/,
    );
  });

  test('malformed requests get clear 4xx answers', async () => {
    const cases: Array<[string, string | undefined, Record<string, string>, number, RegExp]> = [
      [
        'wrong content type',
        'x=1',
        { 'content-type': 'application/x-www-form-urlencoded' },
        415,
        /Unsupported Media Type/,
      ],
      ['text/plain', 'hello', { 'content-type': 'text/plain' }, 415, /Unsupported Media Type/],
      ['empty body', '', {}, 400, /empty/i],
      ['not JSON', '{"kind": AdmissionReview', {}, 400, /not valid JSON/],
      ['JSON array', '[1,2]', {}, 400, /OUTRIGGER_NOT_ADMISSION_REVIEW/],
      ['wrong kind', '{"apiVersion":"v1","kind":"Pod"}', {}, 400, /OUTRIGGER_NOT_ADMISSION_REVIEW/],
      [
        'v1beta1 review',
        '{"apiVersion":"admission.k8s.io/v1beta1","kind":"AdmissionReview","request":{"uid":"u"}}',
        {},
        400,
        /apiVersion/,
      ],
      [
        'no uid',
        '{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{}}',
        {},
        400,
        /uid/,
      ],
      ['prototype poisoning', '{"__proto__":{"x":1}}', {}, 400, /FST_ERR_CTP_INVALID_JSON_BODY/],
      [
        'prototype poisoning, escaped',
        '{"kind":"AdmissionReview","\\u005f_proto__":{"x":1}}',
        {},
        400,
        /FST_ERR_CTP_INVALID_JSON_BODY/,
      ],
      [
        'constructor poisoning',
        '{"a":{"constructor":{"prototype":{"x":1}}}}',
        {},
        400,
        /FST_ERR_CTP_INVALID_JSON_BODY/,
      ],
    ];
    for (const [name, body, headers, status, pattern] of cases) {
      const reply = await send('/inject', body, { headers });
      assert.equal(reply.status, status, `${name}: ${reply.body}`);
      assert.match(reply.body, pattern, name);
    }
    const notGet = await send('/inject', undefined, { method: 'GET' });
    assert.equal(notGet.status, 404);
  });

  test('a review that carries no Pod is refused with a message, uid echoed', async () => {
    const deployment = review({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      spec: { template: {} },
    });
    deployment.request.kind.kind = 'Deployment';
    const noObject = review(appPod());
    (noObject.request as { object?: unknown }).object = undefined;
    for (const sent of [deployment, noObject]) {
      const { response } = (await post(sent)).json() as {
        response: { uid: string; allowed: boolean; status: { message: string } };
      };
      assert.equal(response.uid, sent.request.uid);
      assert.equal(response.allowed, false);
      assert.match(response.status.message, /no Pod/);
    }
  });

  /**
   * Sends raw bytes on a fresh TLS connection and returns what came back. The
   * server may answer and close before the upload ends (that is the point of a
   * 413), so write errors after its answer are expected, not failures.
   */
  const exchange = async (head: string, body: Buffer) => {
    const socket = connect({ host: '127.0.0.1', port, ca: ca.cert, servername: 'localhost' });
    await once(socket, 'secureConnect');
    let received = '';
    socket.on('data', (c: Buffer) => {
      received += c;
    });
    // events.once would reject on the expected EPIPE; wait for 'close' alone.
    const closed = new Promise((resolve) => socket.on('close', resolve));
    socket.on('error', () => {});
    socket.write(head);
    socket.end(body);
    await closed;
    return received;
  };

  test('bodies over the limit get 413, with or without a Content-Length', async () => {
    const huge = Buffer.alloc(11 * 1024 * 1024, 0x20);
    const head = 'POST /inject HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n';
    const withLength = await exchange(`${head}Content-Length: ${huge.length}\r\n\r\n`, huge);
    assert.match(withLength, /^HTTP\/1\.1 413/);
    const chunk = Buffer.alloc(1024 * 1024, 0x20);
    const chunkedBody = Buffer.concat(
      Array.from({ length: 11 }, () =>
        Buffer.concat([
          Buffer.from(`${chunk.length.toString(16)}\r\n`),
          chunk,
          Buffer.from('\r\n'),
        ]),
      ).concat(Buffer.from('0\r\n\r\n')),
    );
    const chunked = await exchange(`${head}Transfer-Encoding: chunked\r\n\r\n`, chunkedBody);
    assert.match(chunked, /^HTTP\/1\.1 413/);
    assert.equal((await send('/healthz', undefined, { method: 'GET' })).status, 200);
  });

  test('a slow, partial body is cut off with 408 instead of hanging', async () => {
    const socket = connect({ host: '127.0.0.1', port, ca: ca.cert, servername: 'localhost' });
    await once(socket, 'secureConnect');
    socket.write(
      'POST /inject HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"apiVersion"',
    );
    let received = '';
    socket.on('data', (c: Buffer) => {
      received += c;
    });
    await once(socket, 'close');
    assert.match(received, /^HTTP\/1\.1 408/);
  });

  test('a concurrent burst over keep-alive connections is answered in full', async () => {
    const agent = new Agent({
      keepAlive: true,
      maxSockets: 16,
      ca: ca.cert,
      servername: 'localhost',
    });
    const sent = Array.from({ length: 400 }, () => review(appPod()));
    const replies = await Promise.all(sent.map((r) => post(r, agent)));
    agent.destroy();
    replies.forEach((reply, i) => {
      assert.equal(reply.status, 200);
      const { response } = reply.json() as { response: { uid: string; allowed: boolean } };
      assert.equal(response.uid, sent[i]?.request.uid);
      assert.equal(response.allowed, true);
    });
  });

  test('a certificate swap mid-burst loses no request and new connections get the new leaf', async () => {
    const oldSerial = (await send('/healthz', undefined, { method: 'GET' })).serial;
    const swapped = Promise.resolve().then(async () => {
      await new Promise((r) => setTimeout(r, 100));
      swapLeaf();
    });
    const keepAlive = new Agent({
      keepAlive: true,
      maxSockets: 4,
      ca: ca.cert,
      servername: 'localhost',
    });
    const serials = new Set<string | undefined>();
    const deadline = Date.now() + 15_000;
    let sent = 0;
    // Fresh connections (agent: false) and kept-alive ones, until the new leaf shows up.
    while (Date.now() < deadline) {
      const batch = await Promise.all([
        ...Array.from({ length: 8 }, () => post(review(appPod()))),
        ...Array.from({ length: 8 }, () => post(review(appPod()), keepAlive)),
      ]);
      sent += batch.length;
      for (const reply of batch) {
        assert.equal(reply.status, 200);
        assert.equal((reply.json() as { response: { allowed: boolean } }).response.allowed, true);
        serials.add(reply.serial);
      }
      if ([...serials].some((s) => s !== oldSerial) && sent >= 64) break;
    }
    await swapped;
    keepAlive.destroy();
    assert.ok(serials.has(oldSerial), 'requests before the swap used the old leaf');
    assert.ok(serials.size >= 2, `no request saw the new leaf after ${sent} requests`);
  });

  test('metrics count decisions by reason and expose a sub-millisecond latency histogram', async () => {
    // What this test sends, counted against what the server had counted before
    // it, so the test reads the same alone or after the others.
    const injected = 'outrigger_admissions_total{decision="injected",reason="default_inject"}';
    const skipped =
      'outrigger_admissions_total{decision="skipped",reason="injection_disabled_by_annotation"}';
    const denied = 'outrigger_admissions_total{decision="denied",reason="invalid_annotation"}';
    const reloads = 'outrigger_tls_reloads_total{result="success"}';
    const before = await scrape();
    await post(review(appPod()));
    await post(review(appPod({ 'sidecar.outrigger.dev/inject': 'false' })));
    await post(review(appPod({ 'traffic.sidecar.outrigger.dev/excludeInboundPorts': '70000' })));
    swapLeaf();
    // The files are polled each second: the swap is counted within a few.
    let after = await scrape();
    for (let i = 0; i < 100 && (after.get(reloads) ?? 0) === (before.get(reloads) ?? 0); i++) {
      await new Promise((r) => setTimeout(r, 100));
      after = await scrape();
    }
    const added = (series: string) => (after.get(series) ?? 0) - (before.get(series) ?? 0);
    assert.equal(added(injected), 1);
    assert.equal(added(skipped), 1);
    assert.equal(added(denied), 1);
    assert.equal(added(reloads), 1);
    assert.ok(
      after.has('outrigger_injection_duration_seconds_bucket{le="0.0001",decision="injected"}'),
      'a bucket below a millisecond',
    );
    const ready = await send('/readyz', undefined, { method: 'GET' });
    assert.equal(ready.status, 200);
  });

  test('the monitoring port serves the same metrics in plain HTTP, and nothing else', async () => {
    // Its own review, so the counter below exists when this test runs alone.
    assert.equal((await post(review(appPod()))).status, 200);
    const monitoringLine = /monitoring on (http:\/\/127\.0\.0\.1:\d+)\/metrics/;
    // Log lines are written in batches, flushed each second.
    for (let i = 0; i < 100 && !monitoringLine.test(logs); i++)
      await new Promise((r) => setTimeout(r, 100));
    const match = monitoringLine.exec(logs);
    assert.ok(match, `no monitoring line in ${logs}`);
    const base = match[1];
    const metrics = await fetch(`${base}/metrics`);
    assert.equal(metrics.status, 200);
    assert.match(metrics.headers.get('content-type') ?? '', /^text\/plain/);
    const text = await metrics.text();
    assert.match(
      text,
      /outrigger_admissions_total\{decision="injected",reason="default_inject"\} \d+/,
    );
    assert.match(text, /^process_resident_memory_bytes \d+/m);
    const inject = await fetch(`${base}/inject`, { method: 'POST', body: '{}' });
    assert.equal(inject.status, 404, 'reviews are answered on the TLS port only');
    assert.equal((await fetch(`${base}/metrics`, { method: 'POST' })).status, 405);
  });

  /** The admission log line of a review; lines are written in batches, flushed each second. */
  async function admissionLine(uid: string): Promise<Record<string, unknown> | undefined> {
    for (let i = 0; i < 100; i++) {
      const line = logs
        .split('\n')
        .filter((l) => l.startsWith('{') && l.endsWith('}') && l.includes('"msg":"admission"'))
        .map((l) => JSON.parse(l))
        .find((l) => l.uid === uid);
      if (line) return line;
      await new Promise((r) => setTimeout(r, 100));
    }
    return undefined;
  }

  test('one structured log line per admission with namespace, pod, decision, reason, duration', async () => {
    const sent = review(appPod());
    assert.equal((await post(sent)).status, 200);
    const line = await admissionLine(sent.request.uid);
    assert.ok(line, 'no admission log line for the review sent');
    assert.equal(line.decision, 'injected');
    assert.equal(line.namespace, 'demo');
    assert.equal(line.pod, 'web-*');
    assert.equal(line.reason, 'default_inject');
    assert.equal(typeof line.durationMs, 'number');
    assert.equal(line.policy, undefined, 'no policy named, none logged');
  });

  test("the admission line names the pod's traffic policy ConfigMap and why", async () => {
    const sent = review(appPod({ 'sidecar.outrigger.dev/policy': 'web-policy' }));
    assert.equal((await post(sent)).status, 200);
    const line = await admissionLine(sent.request.uid);
    assert.ok(line, 'no admission log line for the review sent');
    assert.equal(line.policy, 'web-policy');
    assert.equal(line.policyReason, 'annotation');
  });

  test('SIGTERM finishes an in-flight review, then exits 0', async () => {
    const socket = connect({ host: '127.0.0.1', port, ca: ca.cert, servername: 'localhost' });
    await once(socket, 'secureConnect');
    const body = JSON.stringify(review(appPod()));
    socket.write(
      `POST /inject HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`,
    );
    socket.write(body.slice(0, 50));
    let received = '';
    socket.on('data', (c: Buffer) => {
      received += c;
    });
    await new Promise((r) => setTimeout(r, 100));
    const exited = once(server, 'exit');
    server.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 200));
    socket.end(body.slice(50));
    const [code] = await exited;
    assert.equal(code, 0);
    assert.match(received, /^HTTP\/1\.1 200/);
    assert.match(received, /"allowed":true/);
  });
});
