// The manager's CertificateIssuer, backed by the node-forge generator in generate.ts.
import { generateCertificateAuthority, issueServingCertificate } from './generate.ts';
import type { CertificateIssuer } from './state.ts';

export interface IssuerValidity {
  /** CA lifetime in days (default 10 years). */
  caValidityDays?: number;
  /** Serving leaf lifetime in days (default 1 year); fractions are allowed. */
  leafValidityDays?: number;
}

export function forgeIssuer(validity: IssuerValidity = {}): CertificateIssuer {
  return {
    createCa: (now) =>
      generateCertificateAuthority({ now, validityDays: validity.caValidityDays ?? 3650 }),
    createLeaf: (ca, names, now) =>
      issueServingCertificate(ca, {
        dnsNames: names.dnsNames,
        ipAddresses: names.ipAddresses,
        validityDays: validity.leafValidityDays ?? 365,
        now,
      }),
  };
}
