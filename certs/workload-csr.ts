import forge from 'node-forge';
import { z } from 'zod';
import { signCsr } from './native-signer.ts';
import { parseCaOptions } from './options.ts';
import { KeyBitsSchema } from './root-ca.ts';
import { generateRsaKey } from './rsa-key.ts';

const WorkloadCsrOptionsSchema = z.object({
  keyBits: KeyBitsSchema.default(2048),
  /** Informational only: the CA ignores everything a CSR asks for except its key. */
  commonName: z.string().min(1).max(64).optional(),
});

export type WorkloadCsrOptions = z.input<typeof WorkloadCsrOptionsSchema>;

/**
 * A fresh key and a CSR for it, as a sidecar sends them to the CA. The CSR only proves
 * possession of the key: the CA takes the identity from the caller's authenticated view of the
 * workload, never from the CSR.
 */
export function createWorkloadCsr(options: WorkloadCsrOptions = {}): { keyPem: string; csrPem: string } {
  const opts = parseCaOptions('createWorkloadCsr', WorkloadCsrOptionsSchema, options);
  const key = generateRsaKey(opts.keyBits);
  const csr = forge.pki.createCertificationRequest();
  csr.publicKey = key.publicKey;
  csr.setSubject(opts.commonName ? [{ name: 'commonName', value: opts.commonName }] : []);
  signCsr(csr, key.privateKey);
  return { keyPem: key.keyPem, csrPem: forge.pki.certificationRequestToPem(csr).replace(/\r\n/g, '\n') };
}
