// The one shape a certificate travels in, wherever it comes from (generated,
// read from files, read from the Secret) and whatever it is (a CA, a serving leaf).
export interface KeyPair {
  /** PEM certificate. */
  cert: string;
  /** PEM private key (PKCS#1 RSA when generated here). */
  key: string;
}
