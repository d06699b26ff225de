/**
 * The CSR a sidecar sends to the CA. It runs in the sidecar, so its options are checked by hand
 * (no schema library there), and the PKCS#10 request (RFC 2986) is written directly in DER
 * (`der.ts`) and signed by OpenSSL: no ASN.1 library is loaded into every pod for one request.
 */
import { sign } from 'node:crypto';
import { readInteger, readObject, readString, type Issues } from '../lib/validate.ts';
import { bitString, contextConstructed, nullValue, objectId, pem, sequence, set, smallInteger, utf8String } from './der.ts';
import { checkCaOptions } from './options.ts';
import { generateRsaKey, KEY_BITS } from './rsa-key.ts';

const OID_COMMON_NAME = '2.5.4.3';
const OID_SHA256_WITH_RSA = '1.2.840.113549.1.1.11';

export interface WorkloadCsrOptions {
  /** 2048-8192, default 2048. */
  keyBits?: number;
  /** Informational only: the CA ignores everything a CSR asks for except its key. 1-64 characters. */
  commonName?: string;
}

/** `keyBits` as the CA accepts it, defaulted; shared with the CA client. */
export function readKeyBits(value: unknown, issues: Issues): number | undefined {
  return value === undefined ? KEY_BITS.fallback : readInteger(value, ['keyBits'], issues, { min: KEY_BITS.min, max: KEY_BITS.max });
}

function checkOptions(input: unknown, issues: Issues): { keyBits: number; commonName?: string } | undefined {
  const o = readObject(input, [], issues);
  if (o === undefined) return undefined;
  const keyBits = readKeyBits(o.keyBits, issues);
  const commonName = o.commonName === undefined ? undefined : readString(o.commonName, ['commonName'], issues, { min: 1, max: 64 });
  return keyBits === undefined ? undefined : { keyBits, commonName };
}

/**
 * A fresh key and a CSR for it, as a sidecar sends them to the CA. The CSR only proves
 * possession of the key: the CA takes the identity from the caller's authenticated view of the
 * workload, never from the CSR.
 */
export function createWorkloadCsr(options: WorkloadCsrOptions = {}): { keyPem: string; csrPem: string } {
  const opts = checkCaOptions('createWorkloadCsr', options, checkOptions);
  const key = generateRsaKey(opts.keyBits);
  const subject = opts.commonName ? sequence(set(sequence(objectId(OID_COMMON_NAME), utf8String(opts.commonName)))) : sequence();
  // version 0, subject, the key as SubjectPublicKeyInfo, no attributes.
  const info = sequence(smallInteger(0), subject, key.publicKey.export({ type: 'spki', format: 'der' }), contextConstructed(0));
  const signature = sign('sha256', info, key.privateKey);
  const csr = sequence(info, sequence(objectId(OID_SHA256_WITH_RSA), nullValue()), bitString(signature));
  return { keyPem: key.keyPem, csrPem: pem('CERTIFICATE REQUEST', csr) };
}
