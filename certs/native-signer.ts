import { sign, X509Certificate, type KeyObject } from 'node:crypto';
import forge from 'node-forge';

/**
 * forge builds the certificate; OpenSSL signs it. forge's pure-JavaScript RSA signature costs
 * about 20 ms per certificate, OpenSSL's well under one: it matters when a whole deployment's
 * sidecars ask for certificates at once. forge calls `key.sign(md)` after it has serialised
 * the to-be-signed part, so the signer re-reads that part and signs the bytes themselves.
 */
export function signCertificate(cert: forge.pki.Certificate, privateKey: KeyObject): void {
  const signer = {
    sign: () => signDer(forge.asn1.toDer(cert.tbsCertificate).getBytes(), privateKey),
  };
  cert.sign(signer as unknown as forge.pki.rsa.PrivateKey, forge.md.sha256.create());
}

function signDer(binary: string, privateKey: KeyObject): string {
  return sign('sha256', Buffer.from(binary, 'binary'), privateKey).toString('binary');
}

/** A Node public key as forge's, to put into a certificate forge builds. */
export function forgePublicKey(publicKey: KeyObject): forge.pki.rsa.PublicKey {
  return forge.pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }).toString());
}

/** The PEM of a signed forge certificate, as OpenSSL writes it (LF line ends, not forge's CRLF). */
export function certificateToPem(cert: forge.pki.Certificate): string {
  const der = Buffer.from(forge.asn1.toDer(forge.pki.certificateToAsn1(cert)).getBytes(), 'binary');
  return new X509Certificate(der).toString();
}
