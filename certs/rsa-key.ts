import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import forge from 'node-forge';

/** The RSA key sizes meshtap generates and accepts. */
export const KEY_BITS = Object.freeze({ min: 2048, max: 8192, fallback: 2048 });

/** An RSA key pair in the forms meshtap needs: PEM to store, Node's to sign, forge's to embed. */
export interface RsaKey {
  /** PKCS#8 PEM of the private key. */
  keyPem: string;
  /** Node's private key object: signing goes through OpenSSL. */
  privateKey: KeyObject;
  /** forge's view of the public key, to put into certificates and CSRs. */
  publicKey: forge.pki.rsa.PublicKey;
}

/**
 * Generates the key with Node's crypto (OpenSSL): forge's pure-JavaScript generator takes
 * seconds for 2048 bits, OpenSSL takes tens of milliseconds.
 */
export function generateRsaKey(bits: number): RsaKey {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: bits, publicExponent: 0x10001 });
  return {
    keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    privateKey,
    publicKey: forge.pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }).toString()),
  };
}
