// The test cluster's own certificates, made with the openssl CLI so that the
// harness never shares code with the certificate manager it is testing.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

export interface ClusterPki {
  /** CA that signs the apiserver's serving certificate and every client certificate. */
  caCert: string;
  caKey: string;
  servingCert: string;
  servingKey: string;
  adminCert: string;
  adminKey: string;
  /** Key pair the apiserver signs and verifies service-account tokens with. */
  serviceAccountKey: string;
  serviceAccountPub: string;
}

/** Writes a CA, a loopback serving pair, a system:masters client pair and an SA key into dir. */
export function createClusterPki(dir: string): ClusterPki {
  const pki: ClusterPki = {
    caCert: join(dir, 'ca.crt'),
    caKey: join(dir, 'ca.key'),
    servingCert: join(dir, 'apiserver.crt'),
    servingKey: join(dir, 'apiserver.key'),
    adminCert: join(dir, 'admin.crt'),
    adminKey: join(dir, 'admin.key'),
    serviceAccountKey: join(dir, 'sa.key'),
    serviceAccountPub: join(dir, 'sa.pub'),
  };
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  openssl(
    ['req', '-x509', ...ec, '-keyout', pki.caKey, '-out', pki.caCert, '-days', '2'].concat([
      '-subj',
      '/CN=outrigger-e2e-ca',
    ]),
    dir,
  );

  const sign = (name: string, subject: string, extensions: string) => {
    const ext = join(dir, `${name}.ext`);
    writeFileSync(ext, extensions);
    openssl(
      [
        'req',
        '-new',
        ...ec,
        '-keyout',
        join(dir, `${name}.key`),
        '-out',
        join(dir, `${name}.csr`),
        '-subj',
        subject,
      ],
      dir,
    );
    openssl(
      [
        'x509',
        '-req',
        '-in',
        join(dir, `${name}.csr`),
        '-CA',
        pki.caCert,
        '-CAkey',
        pki.caKey,
      ].concat([
        '-CAcreateserial',
        '-days',
        '2',
        '-extfile',
        ext,
        '-out',
        join(dir, `${name}.crt`),
      ]),
      dir,
    );
  };
  sign(
    'apiserver',
    '/CN=kube-apiserver',
    [
      'basicConstraints=CA:FALSE',
      'keyUsage=digitalSignature,keyEncipherment',
      'extendedKeyUsage=serverAuth',
      'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc',
      '',
    ].join('\n'),
  );
  // O=system:masters is the group RBAC lets do anything: the envtest admin user.
  sign(
    'admin',
    '/O=system:masters/CN=outrigger-e2e-admin',
    [
      'basicConstraints=CA:FALSE',
      'keyUsage=digitalSignature',
      'extendedKeyUsage=clientAuth',
      '',
    ].join('\n'),
  );
  openssl(
    [
      'genpkey',
      '-algorithm',
      'RSA',
      '-pkeyopt',
      'rsa_keygen_bits:2048',
      '-out',
      pki.serviceAccountKey,
    ],
    dir,
  );
  openssl(['pkey', '-in', pki.serviceAccountKey, '-pubout', '-out', pki.serviceAccountPub], dir);
  return pki;
}
