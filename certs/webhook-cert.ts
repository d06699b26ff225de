import { z } from 'zod';
import type { CertBundle } from '../lib/tls/cert-bundle.ts';
import { parseCaOptions } from './options.ts';
import { KeyBitsSchema } from './root-ca.ts';
import { forgePublicKey } from './native-signer.ts';
import { generateRsaKey } from './rsa-key.ts';
import { checkDnsName, ipAddressBytes } from './san-names.ts';
import { leafValidity, resolveSigningCa, signLeaf, type SigningCa } from './signing-ca.ts';

const DAY_MS = 86_400_000;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

const WebhookCertOptionsSchema = z.object({
  service: z.string().max(63).regex(DNS_LABEL, 'must be a Kubernetes service name (RFC 1123 label)').default('meshtap-controller'),
  namespace: z.string().max(63).regex(DNS_LABEL, 'must be a Kubernetes namespace name (RFC 1123 label)').default('meshtap-system'),
  extraDnsNames: z.array(z.string()).default([]),
  extraIps: z.array(z.string()).default([]),
  validityDays: z.number().int().min(1).max(3650).default(365),
  keyBits: KeyBitsSchema.default(2048),
  now: z.date().refine((d) => !Number.isNaN(d.getTime()), 'must be a valid Date').optional(),
});

export type WebhookCertOptions = z.input<typeof WebhookCertOptionsSchema>;

/**
 * The names the API server may use to reach the webhook's Service, from the short form a
 * client in the same namespace uses to the fully qualified one.
 */
export function webhookDnsNames(service: string, namespace: string): string[] {
  return [service, `${service}.${namespace}`, `${service}.${namespace}.svc`, `${service}.${namespace}.svc.cluster.local`];
}

/**
 * The webhook's HTTPS serving certificate, with a fresh key. `ca` of the result is the CA's
 * trust bundle: what goes into the webhook configuration's `caBundle`.
 */
export function issueWebhookCert(ca: CertBundle | SigningCa, options: WebhookCertOptions = {}): CertBundle {
  const opts = parseCaOptions('issueWebhookCert', WebhookCertOptionsSchema, options);
  const signer = resolveSigningCa(ca);
  const dnsNames = [...new Set([...webhookDnsNames(opts.service, opts.namespace), ...opts.extraDnsNames.map(checkDnsName)])];
  const ips = opts.extraIps.map((ip) => ipAddressBytes(ip));
  const { notBefore, notAfter } = leafValidity(signer, opts.now ?? new Date(), opts.validityDays * DAY_MS);
  const key = generateRsaKey(opts.keyBits);
  const { pem } = signLeaf(signer, {
    publicKey: forgePublicKey(key.publicKey),
    subject: [{ name: 'commonName', value: `${opts.service}.${opts.namespace}.svc` }],
    notBefore,
    notAfter,
    extensions: [
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          ...dnsNames.map((value) => ({ type: 2, value })),
          ...ips.map((bytes) => ({ type: 7, value: bytes.toString('binary') })),
        ],
      },
    ],
  });
  return { cert: pem, key: key.keyPem, ca: signer.trustBundle };
}
