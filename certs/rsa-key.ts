import { generateKeyPairSync, type KeyObject } from 'node:crypto';

/** The RSA key sizes meshtap generates and accepts. */
export const KEY_BITS = Object.freeze({ min: 2048, max: 8192, fallback: 2048 });

/** An RSA key pair in the forms meshtap needs: PEM to store, Node's objects to sign and embed. */
export interface RsaKey {
  /** PKCS#8 PEM of the private key. */
  keyPem: string;
  /** Node's private key object: signing goes through OpenSSL. */
  privateKey: KeyObject;
  /** The public key (the CA hands it to forge with `forgePublicKey`; the sidecar's CSR embeds its DER). */
  publicKey: KeyObject;
}

/**
 * Generates the key with Node's crypto (OpenSSL): forge's pure-JavaScript generator takes
 * seconds for 2048 bits, OpenSSL takes tens of milliseconds.
 */
export function generateRsaKey(bits: number): RsaKey {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: bits, publicExponent: 0x10001 });
  return { keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), privateKey, publicKey };
}
