/**
 * The CA's gRPC signing service, `meshtap.v1.CertificateAuthority/Sign`: a sidecar sends a CSR
 * and its projected service-account token; the CA authenticates the token, names the workload
 * `spiffe://<trust domain>/ns/<namespace>/sa/<service account>` from what the token proves, and
 * signs the CSR's key for that identity alone. Nothing the CSR asks for reaches the certificate.
 *
 * Every answer is counted (`meshtap_ca_sign_requests_total{outcome,code}`) and logged with the
 * identity and the reason; the token never is.
 */
import { X509Certificate } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import * as grpc from '@grpc/grpc-js';
import { z } from 'zod';
import { MeshtapError, isMeshtapError } from '../lib/errors.ts';
import { shutdownGrpcServer } from '../lib/grpc-shutdown.ts';
import { formatHostPort } from '../lib/host-port.ts';
import { silentLogger, type Logger } from '../lib/log.ts';
import type { AuthenticatedWorkload, Authenticator } from './authn/authenticator.ts';
import type { CertBundle } from '../lib/tls/cert-bundle.ts';
import { createCaMetrics, type CaMetrics, type SignOutcome } from './ca-metrics.ts';
import { loadCaServiceDefinition, type SignRequestMessage, type SignResponseMessage } from '../record/ca-proto.ts';
import { CA_ERR_BAD_CSR, CA_ERR_BAD_OPTION, CA_ERR_TOKEN_INVALID, CA_ERR_TOKEN_MISSING, caError } from './errors.ts';
import { CA_ERR_BAD_BUNDLE, tlsError } from '../lib/tls/errors.ts';
import { parseCaOptions } from './options.ts';
import { resolveSigningCa, type SigningCa } from './signing-ca.ts';
import { DEFAULT_TRUST_DOMAIN, checkTrustDomain, spiffeIdFor } from './spiffe-id.ts';
import { parseTrustBundle } from '../lib/tls/trust-bundle.ts';
import { signWorkloadCsr } from './workload-cert.ts';

/** The controller's gRPC port (the sidecar's default `MESHTAP_CA_ADDR` points at it). */
export const DEFAULT_CA_PORT = 15012;
/** Far above a real projected token (about 1 KiB), far below anything that costs to parse. */
export const MAX_TOKEN_BYTES = 16 * 1024;

/** A pino-compatible logger (fastify's, the controller's), or anything with these three methods. */
const isFunction = (v: unknown): boolean => typeof v === 'function';

const CaServiceOptionsSchema = z.object({
  /** The signing CA: the current root (during a rotation, the new one). */
  ca: z.custom<SigningCa | CertBundle>(
    (v) => typeof v === 'object' && v !== null && ('kind' in v || ('cert' in v && 'key' in v)),
    'must be a SigningCa (loadSigningCa) or a CertBundle { cert, key, ca }',
  ),
  /** Every root handed to workloads (PEM). Default: the signing CA's own trust bundle. Must contain the signing CA. */
  trustBundlePem: z.string().min(1).optional(),
  authenticator: z.custom<Authenticator>((v) => typeof v === 'object' && v !== null && isFunction((v as Authenticator).authenticate), 'must have authenticate(token)'),
  /** Default: the trust domain recorded in the CA certificate, else `cluster.local`. */
  trustDomain: z.string().min(1).optional(),
  /** Certificates live this long unless a caller asks for less. */
  maxValidityHours: z.number().positive().max(24 * 366).default(24),
  clock: z.custom<() => Date>(isFunction, 'must be a function returning a Date').optional(),
  /** Default: metrics on a registry of their own (`createCaMetrics({ registry })` to use yours). */
  metrics: z.custom<CaMetrics>((v) => typeof v === 'object' && v !== null && isFunction((v as CaMetrics).recordSign), 'must come from createCaMetrics').optional(),
  logger: z.custom<Logger>((v) => typeof v === 'object' && v !== null && isFunction((v as Logger).info) && isFunction((v as Logger).warn), 'must have info/warn/error(fields, msg)').optional(),
  /** CSRs larger than this are refused before parsing. */
  maxCsrBytes: z.number().int().min(1024).max(1 << 20).default(16 * 1024),
});

export type CaServiceOptions = z.input<typeof CaServiceOptionsSchema>;

export interface CaService {
  readonly definition: grpc.ServiceDefinition;
  readonly implementation: grpc.UntypedServiceImplementation;
  readonly trustDomain: string;
  readonly metrics: CaMetrics;
  /** The trust bundle handed out now. */
  trustBundle(): string;
  /**
   * Switches the signing CA and/or the trust bundle without a restart: the steps of a root
   * rotation. The bundle kept or given must contain the signing CA; on error nothing changes.
   */
  update(change: { ca?: SigningCa | CertBundle; trustBundlePem?: string }): void;
}

interface SigningState {
  signer: SigningCa;
  trustBundle: string;
}

function resolveState(ca: SigningCa | CertBundle, trustBundlePem: string | undefined): SigningState {
  const signer = resolveSigningCa(ca);
  const trust = trustBundlePem === undefined ? parseTrustBundle(signer.trustBundle) : parseTrustBundle(trustBundlePem, { source: 'trustBundlePem' });
  const fingerprint = new X509Certificate(signer.certPem).fingerprint256;
  if (!trust.some((pem) => new X509Certificate(pem).fingerprint256 === fingerprint)) {
    throw tlsError(
      CA_ERR_BAD_BUNDLE,
      `the trust bundle does not contain the signing CA (${new X509Certificate(signer.certPem).subject}): workload certificates would not verify`,
    );
  }
  return Object.freeze({ signer, trustBundle: trust.join('') });
}

/** The gRPC status a failure is answered with; anything not listed is INTERNAL. */
const STATUS_OF_CODE: Record<string, grpc.status> = {
  CA_ERR_TOKEN_MISSING: grpc.status.UNAUTHENTICATED,
  CA_ERR_TOKEN_INVALID: grpc.status.UNAUTHENTICATED,
  CA_ERR_TOKEN_AUDIENCE: grpc.status.UNAUTHENTICATED,
  CA_ERR_TOKEN_EXPIRED: grpc.status.UNAUTHENTICATED,
  CA_ERR_TOKEN_ISSUER: grpc.status.UNAUTHENTICATED,
  // Genuine, but names nothing meshtap can turn into a workload identity.
  CA_ERR_TOKEN_IDENTITY: grpc.status.PERMISSION_DENIED,
  CA_ERR_BAD_IDENTITY: grpc.status.PERMISSION_DENIED,
  CA_ERR_BAD_CSR: grpc.status.INVALID_ARGUMENT,
  CA_ERR_CSR_SIGNATURE: grpc.status.INVALID_ARGUMENT,
  CA_ERR_UNSUPPORTED_KEY: grpc.status.INVALID_ARGUMENT,
  CA_ERR_AUTHN_UNAVAILABLE: grpc.status.UNAVAILABLE,
};

const OUTCOME_OF_STATUS: Partial<Record<grpc.status, SignOutcome>> = {
  [grpc.status.OK]: 'ok',
  [grpc.status.UNAUTHENTICATED]: 'unauthenticated',
  [grpc.status.PERMISSION_DENIED]: 'permission_denied',
  [grpc.status.INVALID_ARGUMENT]: 'invalid_argument',
  [grpc.status.UNAVAILABLE]: 'unavailable',
  [grpc.status.INTERNAL]: 'internal',
};

/** The token of `authorization: Bearer <token>`; never logged, never echoed. */
export function bearerTokenOf(metadata: grpc.Metadata): string {
  const values = metadata.get('authorization');
  if (values.length === 0) {
    throw caError(CA_ERR_TOKEN_MISSING, 'no token: send the workload\'s service-account token as gRPC metadata "authorization: Bearer <token>"');
  }
  if (values.length > 1) throw caError(CA_ERR_TOKEN_INVALID, 'more than one "authorization" metadata value; send exactly one Bearer token');
  const value = values[0];
  if (typeof value !== 'string') throw caError(CA_ERR_TOKEN_INVALID, 'the "authorization" metadata must be text ("Bearer <token>")');
  const match = /^Bearer(?:[ \t]+(.*))?$/i.exec(value.trim());
  if (!match) throw caError(CA_ERR_TOKEN_MISSING, 'the "authorization" metadata is not a Bearer token: expected "Bearer <token>"');
  const token = (match[1] ?? '').trim();
  if (token === '') throw caError(CA_ERR_TOKEN_MISSING, 'the Bearer token in the "authorization" metadata is empty');
  if (Buffer.byteLength(token) > MAX_TOKEN_BYTES) throw caError(CA_ERR_TOKEN_INVALID, `the token is longer than ${MAX_TOKEN_BYTES} bytes`);
  return token;
}

export function createCaService(options: CaServiceOptions): CaService {
  const opts = parseCaOptions('createCaService', CaServiceOptionsSchema, options);
  let state = resolveState(opts.ca, opts.trustBundlePem);
  const recorded = state.signer.trustDomain;
  const trustDomain = checkTrustDomain(opts.trustDomain ?? recorded ?? DEFAULT_TRUST_DOMAIN);
  if (recorded !== undefined && recorded !== trustDomain) {
    throw caError(
      CA_ERR_BAD_OPTION,
      `trust domain "${trustDomain}" asked for, but the CA certificate was made for trust domain "${recorded}": use "${recorded}" (the controller's --trust-domain) or a CA made for "${trustDomain}" (meshtap certs init --trust-domain)`,
    );
  }
  const clock = opts.clock ?? (() => new Date());
  const metrics = opts.metrics ?? createCaMetrics();
  const logger = opts.logger ?? silentLogger;
  const maxValidityMs = opts.maxValidityHours * 3_600_000;
  const authenticator = opts.authenticator;

  async function sign(metadata: grpc.Metadata, request: SignRequestMessage, log: Record<string, unknown>): Promise<SignResponseMessage> {
    const token = bearerTokenOf(metadata);
    const workload: AuthenticatedWorkload = await authenticator.authenticate(token);
    Object.assign(log, { namespace: workload.namespace, serviceAccount: workload.serviceAccount, pod: workload.podName, podUid: workload.podUid });
    // The identity comes from the token alone.
    const spiffeId = spiffeIdFor({ trustDomain, namespace: workload.namespace, serviceAccount: workload.serviceAccount });
    log.spiffeId = spiffeId;
    const csrPem = typeof request.csr_pem === 'string' ? request.csr_pem : '';
    if (csrPem.trim() === '') throw caError(CA_ERR_BAD_CSR, 'the request carries no CSR (csr_pem is empty)');
    if (Buffer.byteLength(csrPem) > opts.maxCsrBytes) throw caError(CA_ERR_BAD_CSR, `the CSR is larger than ${opts.maxCsrBytes} bytes`);
    const requested = Number(request.validity_seconds) || 0;
    const validityMs = requested > 0 ? Math.min(requested * 1000, maxValidityMs) : maxValidityMs;
    const current = state;
    const issued = signWorkloadCsr(current.signer, csrPem, { spiffeId, validityHours: validityMs / 3_600_000, now: clock() });
    Object.assign(log, { serialNumber: issued.serialNumber, notAfter: issued.notAfter.toISOString() });
    return {
      cert_chain_pem: issued.cert,
      trust_bundle_pem: current.trustBundle,
      not_before_unix_ms: String(issued.notBefore.getTime()),
      not_after_unix_ms: String(issued.notAfter.getTime()),
      spiffe_id: issued.spiffeId,
      serial_number: issued.serialNumber,
    };
  }

  const Sign: grpc.handleUnaryCall<SignRequestMessage, SignResponseMessage> = (call, callback) => {
    const started = performance.now();
    const log: Record<string, unknown> = { peer: call.getPeer(), authenticator: authenticator.kind };
    sign(call.metadata, call.request ?? ({} as SignRequestMessage), log).then(
      (response) => {
        metrics.recordSign('ok', 'none', (performance.now() - started) / 1000);
        logger.info({ ...log, outcome: 'ok', durationMs: Math.round(performance.now() - started) }, 'workload certificate issued');
        callback(null, response);
      },
      (err: unknown) => {
        const known = isMeshtapError(err);
        const code = known ? err.code : 'unexpected';
        const status = (known && STATUS_OF_CODE[err.code]) || grpc.status.INTERNAL;
        const outcome = OUTCOME_OF_STATUS[status] ?? 'internal';
        // Unexpected errors are described in the log only: their text is not written for callers.
        const details = known ? `${err.code}: ${err.message}` : 'signing failed inside the CA (an unexpected error); the CA\'s log has the details';
        metrics.recordSign(outcome, code, (performance.now() - started) / 1000);
        const fields = { ...log, outcome, code, error: known ? err.message : String((err as Error)?.stack ?? err) };
        if (status === grpc.status.INTERNAL || status === grpc.status.UNAVAILABLE) logger.error(fields, 'signing request failed');
        else logger.warn(fields, 'signing request refused');
        callback({ code: status, details, metadata: new grpc.Metadata() });
      },
    );
  };

  return {
    definition: loadCaServiceDefinition(),
    implementation: { Sign },
    trustDomain,
    metrics,
    trustBundle: () => state.trustBundle,
    update(change) {
      // Without a new bundle the published one stays: switching the signer never drops a root.
      const next = resolveState(change.ca ?? state.signer, change.trustBundlePem ?? state.trustBundle);
      if (next.signer.trustDomain !== undefined && next.signer.trustDomain !== trustDomain) {
        throw caError(CA_ERR_BAD_OPTION, `the new CA records trust domain "${next.signer.trustDomain}", the service serves "${trustDomain}"`);
      }
      state = next;
      logger.info({ ca: new X509Certificate(next.signer.certPem).subject, roots: parseTrustBundle(next.trustBundle).length }, 'signing CA or trust bundle updated');
    },
  };
}

export interface CaServerTls {
  /** The server's certificate (PEM), followed by any intermediates; clients verify it with the trust bundle. */
  cert: string;
  key: string;
}

export interface StartCaServerOptions extends CaServiceOptions {
  /** Default 127.0.0.1; a controller in a cluster listens on 0.0.0.0. */
  host?: string;
  /** Default 15012; 0 picks a free port. */
  port?: number;
  /** The transport's certificate. Required unless `insecure` is set. */
  tls?: CaServerTls;
  /** Plaintext gRPC: tokens would cross the network readable. For debugging only. */
  insecure?: boolean;
}

export interface CaServer {
  port: number;
  service: CaService;
  /** Lets calls in flight finish for up to `graceMs` (default 2000), then cuts the rest. */
  close(options?: { graceMs?: number }): Promise<void>;
}

export async function startCaServer(options: StartCaServerOptions): Promise<CaServer> {
  const { host = '127.0.0.1', port = DEFAULT_CA_PORT, tls, insecure, ...serviceOptions } = options;
  if (!tls && !insecure) {
    throw caError(CA_ERR_BAD_OPTION, 'startCaServer: option "tls" (the server certificate and key) is required; clients verify the CA with the trust bundle');
  }
  let credentials: grpc.ServerCredentials;
  try {
    credentials = tls
      ? grpc.ServerCredentials.createSsl(null, [{ cert_chain: Buffer.from(tls.cert), private_key: Buffer.from(tls.key) }], false)
      : grpc.ServerCredentials.createInsecure();
  } catch (err) {
    throw caError(CA_ERR_BAD_OPTION, `startCaServer: option "tls" is unusable: ${(err as Error).message}`, err);
  }
  const service = createCaService(serviceOptions);
  const server = new grpc.Server({ 'grpc.max_receive_message_length': 64 * 1024 });
  server.addService(service.definition, service.implementation);
  const bound = await new Promise<number>((resolve, reject) => {
    server.bindAsync(formatHostPort(host, port), credentials, (err, p) => {
      if (err) reject(new MeshtapError(CA_ERR_BAD_OPTION, `the CA cannot listen on ${formatHostPort(host, port)}: ${err.message}`, { cause: err }));
      else resolve(p);
    });
  });
  let closing: Promise<void> | undefined;
  return {
    port: bound,
    service,
    close({ graceMs = 2000 } = {}) {
      closing ??= shutdownGrpcServer(server, graceMs).then(() => undefined);
      return closing;
    },
  };
}
