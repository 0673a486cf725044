// Values a sender sizes — an annotation, a uid, a kind — are echoed in deny
// messages and log lines as a prefix and their length, never whole. The
// server is the webhook's own (buildWebhookServer), driven with app.inject and
// logging into memory.
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import pino from 'pino';
import { generateCertificateAuthority, issueServingCertificate } from '../../src/certs/generate.ts';
import { defaultConfig } from '../../src/config/load.ts';
import { ConfigSource } from '../../src/config/watch.ts';
import { ECHO_LIMIT, echoText, quoteValue } from '../../src/shared/echo.ts';
import { readAdmissionRequest, reviewAdmission } from '../../src/webhook/admission.ts';
import { createWebhookMetrics } from '../../src/webhook/metrics.ts';
import { buildWebhookServer } from '../../src/webhook/server.ts';
import { ServingCertificate } from '../../src/webhook/tls.ts';

const MiB = 1024 * 1024;
const CIDR_KEY = 'traffic.sidecar.outrigger.dev/includeOutboundIPRanges';

const review = (uid: string, annotations: Record<string, string>, kind = 'Pod') => ({
  apiVersion: 'admission.k8s.io/v1',
  kind: 'AdmissionReview',
  request: {
    uid,
    kind: { group: '', version: 'v1', kind },
    namespace: 'demo',
    operation: 'CREATE',
    object: {
      metadata: { name: 'web', annotations },
      spec: { containers: [{ name: 'web', image: 'nginx' }] },
    },
  },
});

test('echoText and quoteValue keep short values whole and cut long ones with their length', () => {
  assert.equal(echoText('eth0'), 'eth0');
  assert.equal(quoteValue('eth0'), '"eth0"');
  const long = 'x'.repeat(2 * MiB);
  assert.equal(echoText(long), `${'x'.repeat(ECHO_LIMIT)}… (${2 * MiB} characters)`);
  assert.equal(quoteValue(long), `"${'x'.repeat(ECHO_LIMIT)}…" (${2 * MiB} characters)`);
  // A cut never leaves half a surrogate pair behind.
  const emoji = `${'x'.repeat(ECHO_LIMIT - 1)}😀😀`;
  assert.ok(!echoText(emoji).includes('\ud83d…'));
  assert.equal(quoteValue({ kind: 'x'.repeat(1000) }).length < ECHO_LIMIT + 64, true);
});

test('a 2 MiB annotation value is denied with a message naming the annotation and a prefix', () => {
  const value = `10.0.0.0/8,${'9'.repeat(2 * MiB)}`;
  const result = reviewAdmission(
    readAdmissionRequest(review('uid-1', { [CIDR_KEY]: value })),
    defaultConfig(),
    undefined,
  );
  const { response } = result.review;
  assert.equal(response.allowed, false);
  const message = response.status?.message ?? '';
  assert.ok(message.length < 2048, `deny message is ${message.length} characters`);
  assert.ok(message.includes(CIDR_KEY));
  assert.ok(message.includes(`"10.0.0.0/8,999`));
  assert.ok(message.includes(`(${value.length} characters)`));
});

test('a review of a huge kind is refused without echoing the kind whole', () => {
  const result = reviewAdmission(
    readAdmissionRequest(review('uid-2', {}, 'K'.repeat(MiB))),
    defaultConfig(),
    undefined,
  );
  const message = result.review.response.status?.message ?? '';
  assert.ok(message.length < 1024, `deny message is ${message.length} characters`);
  assert.ok(message.includes(`(${MiB} characters)`));
});

test('a 4 MiB uid and a 1 MiB annotation make a log line of a few KiB, the uid echoed whole in the answer', async () => {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      lines.push(String(chunk));
      done();
    },
  });
  const ca = generateCertificateAuthority();
  const leaf = issueServingCertificate(ca, { dnsNames: ['localhost'] });
  const { app } = buildWebhookServer({
    config: await ConfigSource.load(undefined),
    certificate: new ServingCertificate(leaf, 'test'),
    metrics: createWebhookMetrics(),
    logger: pino({ level: 'info' }, sink),
  });
  try {
    const uid = 'u'.repeat(4 * MiB);
    const reply = await app.inject({
      method: 'POST',
      url: '/inject',
      payload: review(uid, { [CIDR_KEY]: 'z'.repeat(MiB) }),
    });
    assert.equal(reply.statusCode, 200);
    const answer = reply.json();
    // The apiserver matches the answer to its request by uid: that echo stays exact.
    assert.equal(answer.response.uid, uid);
    assert.equal(answer.response.allowed, false);
    assert.ok(answer.response.status.message.length < 2048);

    const line = lines.find((l) => l.includes('"msg":"admission"'));
    assert.ok(line, lines.join(''));
    assert.ok(line.length < 4096, `log line is ${line.length} characters`);
    const parsed = JSON.parse(line);
    assert.equal(parsed.uid, echoText(uid));
    assert.match(parsed.detail, /\(1048576 characters\)/);
  } finally {
    await app.close();
  }
});
