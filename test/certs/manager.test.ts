// The certificate manager against a real kube-apiserver: two replicas converge on
// one CA, caBundle is written and repaired, the leaf and the CA rotate through the
// API exactly as docs/certificates.md describes. Time is a fake clock driven by the
// test; the apiserver only stores what the managers write.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { generateCertificateAuthority, issueServingCertificate } from '../../src/certs/generate.ts';
import { certificateFacts, isSignedBy, splitPemBundle } from '../../src/certs/inspect.ts';
import { forgeIssuer } from '../../src/certs/issuer.ts';
import type { KeyPair } from '../../src/certs/key-pair.ts';
import { loadKubeConfig } from '../../src/certs/kube-api.ts';
import {
  type CertificateManager,
  type ServingMaterial,
  startCertificateManager,
} from '../../src/certs/manager.ts';
import { startCluster, type TestCluster } from '../e2e/harness/cluster.ts';
import { skipUnless } from '../support/prerequisites.ts';

const DAY = 24 * 60 * 60 * 1000;
const NAMESPACE = 'outrigger-certs-test';
const WEBHOOKS = 'outrigger-certs-test';
const quiet = { info() {}, warn() {}, error() {} };

function webhookConfiguration(name: string): string {
  // Two webhooks that never match anything: only their caBundle matters here.
  const webhook = (id: string) => ({
    name: `${id}.certs-test.outrigger.dev`,
    admissionReviewVersions: ['v1'],
    sideEffects: 'None',
    failurePolicy: 'Ignore',
    clientConfig: { url: 'https://127.0.0.1:9/inject' },
    namespaceSelector: { matchLabels: { 'outrigger-certs-test': 'never' } },
    rules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['pods'] }],
  });
  return JSON.stringify({
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'MutatingWebhookConfiguration',
    metadata: { name },
    webhooks: [webhook('first'), webhook('second')],
  });
}

const skip = skipUnless('go', 'controlPlaneTools');

describe('certificate manager on a real apiserver', { concurrency: false, skip }, () => {
  let cluster: TestCluster | undefined;
  let clock = new Date('2031-03-01T00:00:00Z');
  const managers: CertificateManager[] = [];

  before(async () => {
    cluster = await startCluster();
    assert.equal((await cluster.kubectl(['create', 'namespace', NAMESPACE])).code, 0);
    assert.equal(
      (await cluster.kubectl(['create', '-f', '-'], webhookConfiguration(WEBHOOKS))).code,
      0,
    );
  });
  after(async () => {
    for (const manager of managers) await manager.stop();
    await cluster?.stop();
  });

  const caBundles = async (): Promise<string[]> => {
    const result = await cluster?.kubectl([
      'get',
      'mutatingwebhookconfiguration',
      WEBHOOKS,
      '-o',
      'jsonpath={range .webhooks[*]}{.clientConfig.caBundle}{"\\n"}{end}',
    ]);
    return (result?.stdout ?? '')
      .split('\n')
      .filter((line) => line.length > 0)
      .map((line) => Buffer.from(line, 'base64').toString('utf8'));
  };

  async function startReplica(
    name: string,
    served: ServingMaterial[],
  ): Promise<CertificateManager> {
    assert.ok(cluster);
    const manager = await startCertificateManager({
      mode: 'auto',
      kubeConfig: loadKubeConfig(cluster.kubeconfig),
      namespace: NAMESPACE,
      serviceName: 'outrigger',
      secretName: 'outrigger-tls',
      webhookConfigurationName: WEBHOOKS,
      ipAddresses: ['127.0.0.1'],
      issuer: forgeIssuer({ caValidityDays: 30, leafValidityDays: 3 }),
      replicaName: name,
      recheckIntervalMs: 60 * 60 * 1000,
      policy: { caPromotionDelayMs: DAY / 2, replicaTtlMs: 4 * DAY },
      now: () => clock,
      logger: quiet,
      onServingMaterial: (material) => {
        served.push(material);
      },
    });
    managers.push(manager);
    return manager;
  }

  const servedA: ServingMaterial[] = [];
  const servedB: ServingMaterial[] = [];
  let a: CertificateManager;
  let b: CertificateManager;

  it('two replicas started together converge on one CA and one leaf', async () => {
    [a, b] = await Promise.all([
      startReplica('replica-a', servedA),
      startReplica('replica-b', servedB),
    ]);
    assert.equal(a.current().ca, b.current().ca);
    assert.equal(a.current().cert, b.current().cert);
    assert.equal(splitPemBundle(a.current().ca).length, 1);
    const [ca] = splitPemBundle(a.current().ca);
    assert.ok(ca && isSignedBy(a.current().cert, ca));
    const facts = certificateFacts(a.current().cert);
    for (const name of [
      'outrigger',
      'outrigger.outrigger-certs-test',
      'outrigger.outrigger-certs-test.svc',
    ]) {
      assert.ok(facts.dnsNames.includes(name), `leaf names ${name}`);
    }
    assert.ok(facts.dnsNames.includes('outrigger.outrigger-certs-test.svc.cluster.local'));
    assert.deepEqual(facts.ipAddresses, ['127.0.0.1']);
  });

  it('writes the CA into every webhook and puts it back when someone blanks it', async () => {
    assert.ok(cluster);
    assert.deepEqual(await caBundles(), [a.current().ca, a.current().ca]);
    const blank = '[{"op":"remove","path":"/webhooks/1/clientConfig/caBundle"}]';
    const patched = await cluster.kubectl([
      'patch',
      'mutatingwebhookconfiguration',
      WEBHOOKS,
      '--type=json',
      `-p=${blank}`,
    ]);
    assert.equal(patched.code, 0, patched.stderr);
    assert.equal((await caBundles()).length, 1);
    await b.recheck();
    assert.deepEqual(await caBundles(), [a.current().ca, a.current().ca]);
  });

  it('renews the leaf once, hands it to both replicas without a restart, keeps the CA', async () => {
    const before = a.current();
    clock = new Date(clock.getTime() + 2.2 * DAY);
    await a.recheck();
    await b.recheck();
    assert.notEqual(a.current().cert, before.cert);
    assert.equal(
      b.current().cert,
      a.current().cert,
      'b adopted the leaf a wrote instead of minting its own',
    );
    assert.equal(a.current().ca, before.ca);
    assert.equal(servedA.at(-1)?.cert, a.current().cert, 'the new leaf reached the callback');
  });

  it('rotates the CA trust-first and drops the old CA only after both replicas moved', async () => {
    const oldCa = a.current().ca;
    // Day 21 of the CA's 30: a successor is staged and trusted, the old CA still signs.
    clock = new Date(clock.getTime() + 19 * DAY);
    await a.recheck();
    await b.recheck();
    const staged = await caBundles();
    assert.equal(
      splitPemBundle(staged[0] ?? '').length,
      2,
      'caBundle trusts the old and the staged CA',
    );
    assert.ok(isSignedBy(a.current().cert, oldCa), 'still serving a leaf from the old CA');

    // Past the promotion delay: a promotes, b still serves from the old CA.
    clock = new Date(clock.getTime() + DAY);
    await a.recheck();
    const [newCa] = splitPemBundle(a.current().ca).filter((pem) => !oldCa.includes(pem.trim()));
    assert.ok(newCa, 'a serves a bundle with a new CA');
    assert.ok(isSignedBy(a.current().cert, newCa), 'a serves a leaf from the new CA');
    assert.ok(isSignedBy(b.current().cert, oldCa), 'b has not re-checked yet');
    await a.recheck();
    assert.equal(
      splitPemBundle((await caBundles())[0] ?? '').length,
      2,
      'old CA kept while b serves from it',
    );

    await b.recheck();
    assert.ok(isSignedBy(b.current().cert, newCa), 'b moved to the new CA');
    await a.recheck();
    const final = await caBundles();
    assert.deepEqual(
      splitPemBundle(final[0] ?? ''),
      [newCa],
      'old CA dropped once both replicas moved',
    );
    assert.equal(final[1], final[0]);
  });
  it("provided mode serves the user's Secret, writes its ca.crt, and follows its updates", async () => {
    assert.ok(cluster);
    const ca = generateCertificateAuthority({ commonName: 'user-ca' });
    const issue = () =>
      issueServingCertificate(ca, { dnsNames: ['outrigger.outrigger-certs-test.svc'] });
    const secret = (pair: KeyPair) =>
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Secret',
        type: 'kubernetes.io/tls',
        metadata: { name: 'user-tls', namespace: NAMESPACE },
        stringData: { 'tls.crt': pair.cert, 'tls.key': pair.key, 'ca.crt': ca.cert },
      });
    const first = issue();
    assert.equal((await cluster.kubectl(['apply', '-f', '-'], secret(first))).code, 0);
    const served: ServingMaterial[] = [];
    const manager = await startCertificateManager({
      mode: 'provided',
      kubeConfig: loadKubeConfig(cluster.kubeconfig),
      namespace: NAMESPACE,
      serviceName: 'outrigger',
      secretName: 'user-tls',
      webhookConfigurationName: WEBHOOKS,
      recheckIntervalMs: 60 * 60 * 1000,
      logger: quiet,
      onServingMaterial: (material) => {
        served.push(material);
      },
    });
    managers.push(manager);
    assert.equal(manager.current().cert, first.cert);
    assert.deepEqual(await caBundles(), [ca.cert, ca.cert]);

    const second = issue();
    assert.equal((await cluster.kubectl(['apply', '-f', '-'], secret(second))).code, 0);
    await manager.recheck();
    assert.equal(manager.current().cert, second.cert);
    assert.equal(served.length, 2);
  });
});
