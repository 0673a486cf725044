// Reading certificates back: expiry, SANs, fingerprints and "was this leaf signed by
// that CA". node:crypto's X509Certificate parses RSA and ECDSA alike, so inspection
// does not depend on which key type the generator chose.
import { X509Certificate } from 'node:crypto';
import ipaddr from 'ipaddr.js';

export interface CertificateFacts {
  /** SHA-256 of the DER encoding, upper-case hex with colons (as openssl prints it). */
  fingerprint: string;
  subject: string;
  notBefore: Date;
  notAfter: Date;
  dnsNames: string[];
  ipAddresses: string[];
}

const PEM_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** Every certificate in a PEM bundle, in order. */
export function splitPemBundle(bundle: string): string[] {
  return bundle.match(PEM_BLOCK) ?? [];
}

/** Certificates joined into one bundle, duplicates (by fingerprint) dropped, order kept. */
export function joinPemBundle(certificates: readonly string[]): string {
  const seen = new Set<string>();
  const kept: string[] = [];
  for (const pem of certificates.flatMap(splitPemBundle)) {
    const fingerprint = new X509Certificate(pem).fingerprint256;
    if (seen.has(fingerprint)) continue;
    seen.add(fingerprint);
    kept.push(`${pem.trim()}\n`);
  }
  return kept.join('');
}

export function certificateFacts(pem: string): CertificateFacts {
  const cert = new X509Certificate(pem);
  const dnsNames: string[] = [];
  const ipAddresses: string[] = [];
  // subjectAltName reads like `DNS:a, DNS:b, IP Address:127.0.0.1`.
  for (const entry of (cert.subjectAltName ?? '').split(', ')) {
    if (entry.startsWith('DNS:')) dnsNames.push(entry.slice(4));
    else if (entry.startsWith('IP Address:')) ipAddresses.push(entry.slice(11));
  }
  return {
    fingerprint: cert.fingerprint256,
    subject: cert.subject,
    notBefore: new Date(cert.validFrom),
    notAfter: new Date(cert.validTo),
    dnsNames,
    ipAddresses,
  };
}

/** True when `leaf` names `ca` as its issuer and carries a valid signature from its key. */
export function isSignedBy(leaf: string, ca: string): boolean {
  const leafCert = new X509Certificate(leaf);
  const caCert = new X509Certificate(ca);
  return leafCert.checkIssued(caCert) && leafCert.verify(caCert.publicKey);
}

/**
 * True once less than `renewBeforeFraction` of the certificate's lifetime is left
 * (cert-manager's rule of thumb: renew at two thirds of the lifetime).
 */
export function isDueForRenewal(
  facts: CertificateFacts,
  now: Date,
  renewBeforeFraction: number,
): boolean {
  const lifetime = facts.notAfter.getTime() - facts.notBefore.getTime();
  return facts.notAfter.getTime() - now.getTime() <= lifetime * renewBeforeFraction;
}

/**
 * One spelling per address, so `2001:db8::1` (as configured) equals
 * `2001:DB8:0:0:0:0:0:1` (as OpenSSL prints a SAN).
 */
export function canonicalIp(ip: string): string {
  return ipaddr.isValid(ip) ? ipaddr.parse(ip).toNormalizedString() : ip;
}

/** True when the certificate names every wanted DNS name and IP address. */
export function coversNames(
  facts: CertificateFacts,
  dnsNames: readonly string[],
  ips: readonly string[],
): boolean {
  const present = new Set(facts.ipAddresses.map(canonicalIp));
  return (
    dnsNames.every((name) => facts.dnsNames.includes(name)) &&
    ips.every((ip) => present.has(canonicalIp(ip)))
  );
}
