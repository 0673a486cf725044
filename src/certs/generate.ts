// A certificate authority and the webhook's serving certificate, made in
// process with node-forge so the injector needs no cert-manager and no openssl.
// RSA keys: node-forge hands RSA key generation to Node's native crypto, while
// its ECDSA support stops short of X.509 signing.
import { randomBytes } from 'node:crypto';
import forge from 'node-forge';
import { errors } from '../errors.ts';
import type { KeyPair } from './key-pair.ts';

export interface ServingCertificateOptions {
  /** DNS names for the subjectAltName; the first is also the subject's CN. */
  dnsNames: string[];
  /** IP addresses for the subjectAltName (e.g. 127.0.0.1 for a local run). */
  ipAddresses?: string[];
  /** Validity in days from now. */
  validityDays?: number;
  /** Issue dates in tests. */
  now?: Date;
}

const RSA_BITS = 2048;
const SUBJECT_ORGANIZATION = 'Outrigger';

/** RFC 5280 §4.1.2.2: a positive serial of up to 20 octets, unpredictable. */
function randomSerial(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0] ?? 0) & 0x7f;
  return bytes.toString('hex');
}

function validity(cert: forge.pki.Certificate, now: Date, days: number): void {
  // Back-date a little so a node with a slightly slow clock accepts it at once.
  cert.validity.notBefore = new Date(now.getTime() - 5 * 60 * 1000);
  cert.validity.notAfter = new Date(now.getTime() + days * 24 * 60 * 60 * 1000);
}

export function generateCertificateAuthority(
  options: { commonName?: string; validityDays?: number; now?: Date } = {},
): KeyPair {
  const keys = forge.pki.rsa.generateKeyPair({ bits: RSA_BITS, e: 0x10001 });
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = randomSerial();
  validity(cert, options.now ?? new Date(), options.validityDays ?? 3650);
  const subject = [
    { name: 'commonName', value: options.commonName ?? 'outrigger-webhook-ca' },
    { name: 'organizationName', value: SUBJECT_ORGANIZATION },
  ];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, pathLenConstraint: 0, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(keys.privateKey, forge.md.sha256.create());
  return {
    cert: forge.pki.certificateToPem(cert),
    key: forge.pki.privateKeyToPem(keys.privateKey),
  };
}

export function issueServingCertificate(
  authority: KeyPair,
  options: ServingCertificateOptions,
): KeyPair {
  const [commonName] = options.dnsNames;
  if (commonName === undefined)
    throw errors.CERTIFICATE_SETTINGS('a serving certificate needs at least one DNS name');
  const caCert = forge.pki.certificateFromPem(authority.cert);
  const caKey = forge.pki.privateKeyFromPem(authority.key);
  const keys = forge.pki.rsa.generateKeyPair({ bits: RSA_BITS, e: 0x10001 });
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = randomSerial();
  validity(cert, options.now ?? new Date(), options.validityDays ?? 365);
  cert.setSubject([
    { name: 'commonName', value: commonName },
    { name: 'organizationName', value: SUBJECT_ORGANIZATION },
  ]);
  cert.setIssuer(caCert.subject.attributes);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    {
      name: 'subjectAltName',
      altNames: [
        ...options.dnsNames.map((value) => ({ type: 2, value })),
        ...(options.ipAddresses ?? []).map((ip) => ({ type: 7, ip })),
      ],
    },
    { name: 'subjectKeyIdentifier' },
    {
      name: 'authorityKeyIdentifier',
      keyIdentifier: caCert.generateSubjectKeyIdentifier().getBytes(),
    },
  ]);
  cert.sign(caKey, forge.md.sha256.create());
  return {
    cert: forge.pki.certificateToPem(cert),
    key: forge.pki.privateKeyToPem(keys.privateKey),
  };
}
