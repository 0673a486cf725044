// The webhook's serving certificate, swappable at run time: new handshakes get
// the new certificate while open connections carry on with the old one.
import { X509Certificate } from 'node:crypto';
import { unwatchFile, watchFile } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { Server } from 'node:https';
import { createSecureContext, type SecureContextOptions } from 'node:tls';
import type { KeyPair } from '../certs/key-pair.ts';
import { errors } from '../errors.ts';

/** TLS settings every context gets: TLS 1.2 is the floor. */
export const TLS_OPTIONS = { minVersion: 'TLSv1.2' } as const satisfies SecureContextOptions;

/**
 * Checks a certificate and key belong together before anything is swapped, so
 * a half-written pair never reaches the listener. Returns the expiry time.
 */
export function checkServingMaterial(material: KeyPair, source: string): Date {
  try {
    createSecureContext({ ...TLS_OPTIONS, ...material });
    return new Date(new X509Certificate(material.cert).validTo);
  } catch (err) {
    throw errors.TLS_MATERIAL(source, (err as Error).message);
  }
}

export class ServingCertificate {
  #server: Server | undefined;
  #material: KeyPair;
  #listeners: Array<(expiry: Date) => void> = [];

  constructor(material: KeyPair, source: string) {
    checkServingMaterial(material, source);
    this.#material = material;
  }

  get material(): KeyPair {
    return this.#material;
  }

  /** Called once the HTTPS server exists, so later updates reach it. */
  attach(server: Server): void {
    this.#server = server;
  }

  onUpdate(listener: (expiry: Date) => void): void {
    this.#listeners.push(listener);
  }

  /** Swaps the certificate for new connections. Throws (and keeps the old one) if the pair is bad. */
  update(material: KeyPair, source = 'update'): void {
    const expiry = checkServingMaterial(material, source);
    this.#server?.setSecureContext({ ...TLS_OPTIONS, ...material });
    this.#material = material;
    for (const listener of this.#listeners) listener(expiry);
  }
}

/**
 * Reloads the certificate when either file changes (polling, which follows the
 * symlink swaps Kubernetes uses for mounted Secrets). A mismatched pair, as seen
 * between the two writes of a non-atomic update, is reported and retried on the
 * next change.
 */
export function watchServingFiles(
  certificate: ServingCertificate,
  paths: { cert: string; key: string },
  report: (err: Error | undefined) => void,
  intervalMs = 1000,
): () => void {
  let last = '';
  const reload = async () => {
    try {
      const material = {
        cert: await readFile(paths.cert, 'utf8'),
        key: await readFile(paths.key, 'utf8'),
      };
      const fingerprint = material.cert + material.key;
      if (fingerprint === last) return;
      certificate.update(material, `${paths.cert} + ${paths.key}`);
      last = fingerprint;
      report(undefined);
    } catch (err) {
      report(err as Error);
    }
  };
  last = certificate.material.cert + certificate.material.key;
  const listener = () => void reload();
  watchFile(paths.cert, { interval: intervalMs }, listener);
  watchFile(paths.key, { interval: intervalMs }, listener);
  // watchFile's first reading is asynchronous: check now, or a change made since
  // the files were first read would go unseen until the next one.
  void reload();
  return () => {
    unwatchFile(paths.cert, listener);
    unwatchFile(paths.key, listener);
  };
}

export async function readServingFiles(paths: { cert: string; key: string }): Promise<KeyPair> {
  try {
    return { cert: await readFile(paths.cert, 'utf8'), key: await readFile(paths.key, 'utf8') };
  } catch (err) {
    throw errors.TLS_MATERIAL(`${paths.cert} + ${paths.key}`, (err as Error).message);
  }
}
