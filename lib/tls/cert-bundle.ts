/**
 * A certificate with its key and the CA certificate(s) that vouch for it, all PEM: the shape
 * of a Kubernetes TLS Secret (`tls.crt`, `tls.key`, `ca.crt`). For a root CA, `cert` and the
 * first certificate of `ca` are the same self-signed certificate; during a root rotation `ca`
 * holds the old and the new root.
 */
export interface CertBundle {
  /** The leaf (or CA) certificate. */
  cert: string;
  /** The private key of `cert` (PKCS#8). */
  key: string;
  /** The trust bundle: one or more CA certificates. */
  ca: string;
}
