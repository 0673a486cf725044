// The certificate manager's create-or-adopt logic on one shared Secret, with the
// races made to happen: two replicas creating it at once, a Secret that already
// exists, two replicas renewing at once, and a write from elsewhere between a
// replica's read and its write (a stale resourceVersion). The store is the
// in-memory apiserver of support/memory-store.ts behind the same seam the real
// client implements; test/certs/manager.test.ts runs the manager against a real
// kube-apiserver.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { forgeIssuer } from '../../src/certs/issuer.ts';
import {
  type CertificateManager,
  type CertificateManagerOptions,
  startCertificateManager,
} from '../../src/certs/manager.ts';
import {
  caBundleOf,
  initialState,
  SERVED_ANNOTATION_PREFIX,
  stateToSecret,
} from '../../src/certs/state.ts';
import { MemoryApiServer, type StoreCall } from './support/memory-store.ts';

const DAY = 24 * 60 * 60 * 1000;
const NAMESPACE = 'outrigger-system';
const issuer = forgeIssuer({ caValidityDays: 30, leafValidityDays: 3 });
const names = {
  dnsNames: [
    'outrigger',
    `outrigger.${NAMESPACE}`,
    `outrigger.${NAMESPACE}.svc`,
    `outrigger.${NAMESPACE}.svc.cluster.local`,
  ],
  ipAddresses: [],
};

/** A promise each of `count` callers awaits; all go on once the last arrives. */
function barrier(count: number): () => Promise<void> {
  let arrived = 0;
  let release: () => void = () => {};
  const open = new Promise<void>((resolve) => {
    release = resolve;
  });
  return () => {
    arrived++;
    if (arrived === count) release();
    return open;
  };
}

/** Holds every replica at `call` until `count` of them reached it, once. */
function meetAt(server: MemoryApiServer, call: StoreCall, count: number): void {
  const wait = barrier(count);
  let waiting = count;
  server.before = async (_replica, at) => {
    if (at !== call || waiting === 0) return;
    waiting--;
    await wait();
  };
}

interface Replica {
  manager: CertificateManager;
  registry: Registry;
  messages: string[];
}

function decode(value: string | undefined): string {
  return Buffer.from(value ?? '', 'base64').toString('utf8');
}

/** The sum over replicas of one rotation step's counter. */
async function steps(replicas: Replica[], step: string): Promise<number> {
  let total = 0;
  for (const { registry } of replicas) {
    const metric = await registry
      .getSingleMetric('outrigger_webhook_certificate_rotations_total')
      ?.get();
    total += metric?.values.find((v) => v.labels.step === step)?.value ?? 0;
  }
  return total;
}

describe('certificate manager on a shared Secret', () => {
  let clock = new Date('2031-03-01T00:00:00Z');

  async function startReplica(
    server: MemoryApiServer,
    name: string,
    extra: Partial<CertificateManagerOptions> = {},
  ): Promise<Replica> {
    const registry = new Registry();
    const messages: string[] = [];
    const record = (_obj: object, msg: string) => {
      messages.push(msg);
    };
    const manager = await startCertificateManager({
      mode: 'auto',
      store: server.store(name),
      namespace: NAMESPACE,
      serviceName: 'outrigger',
      secretName: 'outrigger-tls',
      webhookConfigurationName: 'outrigger',
      issuer,
      replicaName: name,
      recheckIntervalMs: 60 * 60 * 1000,
      policy: { caPromotionDelayMs: DAY / 2, replicaTtlMs: 4 * DAY },
      now: () => clock,
      logger: { info: record, warn: record, error: record },
      metrics: registry,
      onServingMaterial: () => {},
      startTimeoutMs: 0,
      ...extra,
    });
    return { manager, registry, messages };
  }

  it('two replicas creating the Secret at once: one creates it, the other adopts it', async () => {
    const server = new MemoryApiServer(['first.test.outrigger.dev', 'second.test.outrigger.dev']);
    // Both read "no Secret" before either writes: the race the resourceVersion settles.
    meetAt(server, 'readSecret', 2);
    const replicas = await Promise.all([
      startReplica(server, 'replica-a'),
      startReplica(server, 'replica-b'),
    ]);
    const [a, b] = replicas as [Replica, Replica];
    try {
      assert.equal(server.calls.filter((c) => c.call === 'createSecret').length, 2, 'both tried');
      assert.equal(await steps(replicas, 'created'), 1, 'one creation counted');
      assert.deepEqual(
        server.events.filter((e) => e.reason === 'CertificateCreated').length,
        1,
        'one CertificateCreated event',
      );
      const loser = replicas.find((r) => r.messages.some((m) => m.includes('adopting it')));
      assert.ok(loser, 'the replica that lost the create says it adopts');
      assert.equal(a.manager.current().cert, b.manager.current().cert, 'one leaf');
      assert.equal(a.manager.current().ca, b.manager.current().ca, 'one CA');
      const secret = server.secret;
      assert.equal(decode(secret?.data['tls.crt']), a.manager.current().cert);
      assert.deepEqual(server.caBundles(), [a.manager.current().ca, a.manager.current().ca]);
      for (const replica of ['replica-a', 'replica-b'])
        assert.ok(`${SERVED_ANNOTATION_PREFIX}${replica}` in (secret?.annotations ?? {}), replica);
    } finally {
      await Promise.all(replicas.map((r) => r.manager.stop()));
    }
  });

  it('adopts a Secret that exists, keeping annotations it does not own', async () => {
    const server = new MemoryApiServer();
    const existing = initialState(issuer, names, clock);
    const { data, annotations } = stateToSecret(existing);
    server.writeSecret(data, { ...annotations, 'example.com/owner': 'platform-team' });
    const replica = await startReplica(server, 'replica-a');
    try {
      assert.equal(replica.manager.current().cert, existing.leaf.cert, 'serves the leaf it found');
      assert.equal(server.calls.filter((c) => c.call === 'createSecret').length, 0);
      assert.equal(await steps([replica], 'created'), 0);
      const secret = server.secret;
      assert.equal(decode(secret?.data['ca.crt']), existing.ca.cert, 'the CA is untouched');
      assert.equal(secret?.annotations['example.com/owner'], 'platform-team');
      assert.ok(`${SERVED_ANNOTATION_PREFIX}replica-a` in (secret?.annotations ?? {}));
      assert.deepEqual(server.caBundles(), [caBundleOf(existing)]);
      // One leaf-expiry gauge: the webhook's own. The manager's gauge carries the CA only.
      const expiry = await replica.registry
        .getSingleMetric('outrigger_webhook_certificate_expiry_timestamp_seconds')
        ?.get();
      assert.deepEqual(
        expiry?.values.map((v) => v.labels),
        [{ kind: 'ca' }],
      );
    } finally {
      await replica.manager.stop();
    }
  });

  it('fills a Secret made by hand without certificates, keeping what else it holds', async () => {
    const server = new MemoryApiServer();
    server.writeSecret({ note: Buffer.from('made by hand').toString('base64') }, { keep: 'me' });
    const replica = await startReplica(server, 'replica-a');
    try {
      const secret = server.secret;
      assert.equal(decode(secret?.data['tls.crt']), replica.manager.current().cert);
      assert.equal(secret?.annotations.keep, 'me');
      assert.equal(server.calls.filter((c) => c.call === 'createSecret').length, 0);
      assert.equal(await steps([replica], 'created'), 1);
    } finally {
      await replica.manager.stop();
    }
  });

  it('two replicas renewing at once: one renewal is written, the other replica adopts it', async () => {
    const server = new MemoryApiServer();
    const replicas = [
      await startReplica(server, 'replica-a'),
      await startReplica(server, 'replica-b'),
    ];
    const [a, b] = replicas as [Replica, Replica];
    try {
      const before = a.manager.current();
      assert.equal(b.manager.current().cert, before.cert);
      clock = new Date(clock.getTime() + 2.2 * DAY);
      // Both plan the renewal from the same resourceVersion; the second write is refused.
      meetAt(server, 'readSecret', 2);
      const refusedBefore = server.calls.length;
      await Promise.all([a.manager.recheck(), b.manager.recheck()]);
      assert.ok(
        server.calls.slice(refusedBefore).filter((c) => c.call === 'updateSecret').length >= 3,
        'the losing write was retried',
      );
      assert.equal(await steps(replicas, 'leaf-renewed'), 1, 'one renewal, not two');
      assert.notEqual(a.manager.current().cert, before.cert);
      assert.equal(b.manager.current().cert, a.manager.current().cert);
      assert.equal(decode(server.secret?.data['tls.crt']), a.manager.current().cert);
      assert.equal(a.manager.current().ca, before.ca, 'the CA stays');
    } finally {
      await Promise.all(replicas.map((r) => r.manager.stop()));
    }
  });

  it('a write from elsewhere between read and write: the stale write is refused, re-planned, and loses nothing', async () => {
    const server = new MemoryApiServer();
    const replica = await startReplica(server, 'replica-a');
    try {
      const before = replica.manager.current();
      clock = new Date(clock.getTime() + 2.2 * DAY);
      let interfered = false;
      server.before = (_replica, call) => {
        if (call !== 'updateSecret' || interfered) return;
        interfered = true;
        // kubectl annotate, say: the Secret moves on under the replica's planned write.
        const secret = server.secret;
        assert.ok(secret);
        server.writeSecret(secret.data, { ...secret.annotations, 'example.com/touched': 'yes' });
      };
      await replica.manager.recheck();
      assert.ok(interfered);
      const secret = server.secret;
      assert.equal(secret?.annotations['example.com/touched'], 'yes', 'the other write survives');
      assert.notEqual(replica.manager.current().cert, before.cert, 'the renewal still happened');
      assert.equal(decode(secret?.data['tls.crt']), replica.manager.current().cert);
      assert.equal(await steps([replica], 'leaf-renewed'), 1);
    } finally {
      await replica.manager.stop();
    }
  });

  it('gives up a re-check after repeated conflicts and keeps serving what it had', async () => {
    const server = new MemoryApiServer();
    const replica = await startReplica(server, 'replica-a');
    try {
      const before = replica.manager.current();
      clock = new Date(clock.getTime() + 2.2 * DAY);
      server.before = (_replica, call) => {
        if (call !== 'updateSecret') return;
        const secret = server.secret;
        assert.ok(secret);
        server.writeSecret(secret.data, secret.annotations);
      };
      await assert.rejects(replica.manager.recheck(), /too many write conflicts/);
      assert.equal(replica.manager.current(), before);
      assert.equal(await steps([replica], 'leaf-renewed'), 0);
    } finally {
      server.before = () => {};
      await replica.manager.stop();
    }
  });
});
