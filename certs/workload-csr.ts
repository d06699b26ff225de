/**
 * The CSR a sidecar sends to the CA. It runs in the sidecar, so its options are checked by hand
 * (no schema library there).
 */
import forge from 'node-forge';
import { readInteger, readObject, readString, type Issues } from '../lib/validate.ts';
import { signCsr } from './native-signer.ts';
import { checkCaOptions } from './options.ts';
import { generateRsaKey, KEY_BITS } from './rsa-key.ts';

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
  const csr = forge.pki.createCertificationRequest();
  csr.publicKey = key.publicKey;
  csr.setSubject(opts.commonName ? [{ name: 'commonName', value: opts.commonName }] : []);
  signCsr(csr, key.privateKey);
  return { keyPem: key.keyPem, csrPem: forge.pki.certificationRequestToPem(csr).replace(/\r\n/g, '\n') };
}
