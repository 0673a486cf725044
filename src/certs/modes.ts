// Where the webhook's certificates come from in cluster mode. Kept apart from
// manager.ts so the CLI can list the modes without loading the Kubernetes client.
export const CERTIFICATE_MODES = ['auto', 'provided', 'cert-manager'] as const;
export type CertificateMode = (typeof CERTIFICATE_MODES)[number];
