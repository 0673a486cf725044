// The rotation plan on a fake calendar: when the leaf is renewed, when a new CA is
// staged, promoted and the old one dropped, and that the Secret encoding round-trips.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  canonicalIp,
  certificateFacts,
  isSignedBy,
  splitPemBundle,
} from '../../src/certs/inspect.ts';
import { forgeIssuer } from '../../src/certs/issuer.ts';
import {
  type CertificateState,
  caBundleOf,
  initialState,
  planRotation,
  type RotationPolicy,
  stateFromSecret,
  stateToSecret,
} from '../../src/certs/state.ts';

const DAY = 24 * 60 * 60 * 1000;
const start = new Date('2030-01-01T00:00:00Z');
const at = (days: number) => new Date(start.getTime() + days * DAY);
const issuer = forgeIssuer({ caValidityDays: 30, leafValidityDays: 3 });
const names = {
  dnsNames: ['outrigger', 'outrigger.system', 'outrigger.system.svc'],
  ipAddresses: ['127.0.0.1'],
};
const policy: RotationPolicy = {
  leafRenewBeforeFraction: 1 / 3,
  caRenewBeforeFraction: 1 / 3,
  caPromotionDelayMs: DAY / 2,
  replicaTtlMs: DAY / 4,
};
const plan = (state: CertificateState, now: Date, stagedCaTrusted = true) =>
  planRotation(state, { issuer, names, now, policy, stagedCaTrusted });
const fingerprint = (pem: string) => certificateFacts(pem).fingerprint;

describe('planRotation', () => {
  const initial = initialState(issuer, names, start);

  it('issues a leaf from the CA with every wanted name', () => {
    assert.ok(isSignedBy(initial.leaf.cert, initial.ca.cert));
    const facts = certificateFacts(initial.leaf.cert);
    assert.deepEqual(facts.dnsNames, names.dnsNames);
    assert.deepEqual(facts.ipAddresses, ['127.0.0.1']);
    assert.deepEqual(plan(initial, at(1)).steps, []);
  });

  it('renews the leaf once a third of its life is left, keeping the CA', () => {
    const { state, steps } = plan(initial, at(2.1));
    assert.deepEqual(steps, ['leaf-renewed']);
    assert.equal(state.ca.cert, initial.ca.cert);
    assert.notEqual(fingerprint(state.leaf.cert), fingerprint(initial.leaf.cert));
    assert.ok(isSignedBy(state.leaf.cert, initial.ca.cert));
  });

  it('reissues the leaf when a wanted name is missing', () => {
    const wider = { ...names, dnsNames: [...names.dnsNames, 'injector.example.test'] };
    const { state, steps } = planRotation(initial, {
      issuer,
      names: wider,
      now: at(1),
      policy,
      stagedCaTrusted: true,
    });
    assert.deepEqual(steps, ['leaf-reissued-for-names']);
    assert.ok(certificateFacts(state.leaf.cert).dnsNames.includes('injector.example.test'));
  });

  it('rotates the CA trust-first: stage, promote once trusted, drop after every replica moved', () => {
    const oldCa = fingerprint(initial.ca.cert);
    // Day 21: a third of the CA's 30 days left -> stage a successor, still sign with the old one.
    const staged = plan({ ...initial, leaf: issuer.createLeaf(initial.ca, names, at(21)) }, at(21));
    assert.deepEqual(staged.steps, ['ca-staged']);
    assert.equal(fingerprint(staged.state.ca.cert), oldCa);
    assert.ok(staged.state.nextCa);
    assert.equal(
      splitPemBundle(caBundleOf(staged.state)).length,
      2,
      'bundle trusts old and staged CA',
    );

    // Before the promotion delay, or while caBundle lacks the staged CA, nothing moves.
    assert.deepEqual(plan(staged.state, at(21.2)).steps, []);
    assert.deepEqual(plan(staged.state, at(21.6), false).steps, []);

    const promoted = plan(staged.state, at(21.6));
    assert.deepEqual(promoted.steps, ['ca-promoted']);
    const newCa = promoted.state.ca.cert;
    assert.notEqual(fingerprint(newCa), oldCa);
    assert.ok(isSignedBy(promoted.state.leaf.cert, newCa));
    assert.equal(promoted.state.previousCaCert, initial.ca.cert);
    assert.equal(splitPemBundle(caBundleOf(promoted.state)).length, 2);

    // One replica still serves a leaf from the old CA: the old CA stays trusted.
    const mixed: CertificateState = {
      ...promoted.state,
      served: {
        a: { caFingerprint: fingerprint(newCa), at: at(21.65) },
        b: { caFingerprint: oldCa, at: at(21.65) },
      },
    };
    assert.deepEqual(plan(mixed, at(21.7)).steps, []);

    // Both moved: the old CA leaves the bundle.
    const moved: CertificateState = {
      ...mixed,
      served: { ...mixed.served, b: { caFingerprint: fingerprint(newCa), at: at(21.7) } },
    };
    const dropped = plan(moved, at(21.75));
    assert.deepEqual(dropped.steps, ['previous-ca-dropped']);
    assert.equal(splitPemBundle(caBundleOf(dropped.state)).length, 1);

    // A replica that went away without moving is forgotten after the TTL, then the CA drops.
    const gone = plan(mixed, at(22));
    assert.deepEqual(gone.steps, ['stale-replicas-forgotten', 'previous-ca-dropped']);
  });
});

describe('Secret encoding', () => {
  it('round-trips every field and report', () => {
    const initial = initialState(issuer, names, start);
    const state: CertificateState = {
      ...initial,
      nextCa: issuer.createCa(start),
      nextCaStagedAt: at(1),
      previousCaCert: issuer.createCa(start).cert,
      served: { 'outrigger-7c9d-x2': { caFingerprint: fingerprint(initial.ca.cert), at: at(1) } },
    };
    const { data, annotations } = stateToSecret(state);
    assert.equal(data['tls.crt'], Buffer.from(state.leaf.cert).toString('base64'));
    assert.deepEqual(stateFromSecret(data, annotations), state);
  });

  it('treats a Secret without a complete CA and leaf as absent', () => {
    assert.equal(stateFromSecret({ 'tls.crt': 'eA==' }, {}), undefined);
    assert.equal(stateFromSecret(undefined, undefined), undefined);
  });
});

describe('leaf lifetime limit', () => {
  it('reissues a leaf that outlives a lowered validity at once', () => {
    const initial = initialState(issuer, names, start);
    const limited = { ...policy, maxLeafLifetimeMs: DAY };
    const { state, steps } = planRotation(initial, {
      issuer: forgeIssuer({ leafValidityDays: 0.5 }),
      names,
      now: at(0.1),
      policy: limited,
      stagedCaTrusted: true,
    });
    assert.deepEqual(steps, ['leaf-reissued-for-lifetime']);
    const facts = certificateFacts(state.leaf.cert);
    assert.ok(facts.notAfter.getTime() - facts.notBefore.getTime() <= DAY);
  });
});

describe('IPv6 SANs', () => {
  it('treats a configured IPv6 address as covered however OpenSSL spells it', () => {
    const v6 = { dnsNames: ['outrigger'], ipAddresses: ['2001:db8::1', '127.0.0.1'] };
    const initial = initialState(issuer, v6, start);
    const { steps } = planRotation(initial, {
      issuer,
      names: v6,
      now: at(0.5),
      policy,
      stagedCaTrusted: true,
    });
    assert.deepEqual(steps, [], 'no reissue loop for an address written differently');
    assert.equal(canonicalIp('2001:DB8:0:0:0:0:0:1'), canonicalIp('2001:db8::1'));
  });
});
