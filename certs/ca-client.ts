/**
 * What a sidecar calls to get its workload certificate: a fresh key and CSR, the projected
 * service-account token as `authorization: Bearer`, one `Sign` call over TLS (the CA verified
 * with the trust bundle), and the answer checked before it is used.
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { MeshtapError, isMeshtapError } from '../lib/errors.ts';
import { unaryRequest } from '../lib/grpc-client/unary.ts';
import { GRPC_STATUS, GrpcCallError, statusName } from '../lib/grpc-client/status.ts';
import type { SignResponseMessage } from '../record/ca-proto.ts';
import { CA_CLIENT_SERVICE } from '../record/ca-wire.ts';
import { CA_ERR_CA_BAD_RESPONSE, CA_ERR_CA_REFUSED, CA_ERR_CA_UNAUTHENTICATED, CA_ERR_CA_UNAVAILABLE, CA_ERR_TOKEN_MISSING, caError } from './errors.ts';
import { CA_ERR_READ, tlsError } from '../lib/tls/errors.ts';
import { checkCaOptions } from './options.ts';
import { parseTrustBundle } from '../lib/tls/trust-bundle.ts';
import { createWorkloadCsr, readKeyBits } from './workload-csr.ts';
import { readInteger, readObject, readString, type Issues } from '../lib/validate.ts';

export interface RequestWorkloadCertificateOptions {
  /** `host:port` of the CA; the host is also the name its certificate must carry. */
  caAddr: string;
  /** The roots the CA's serving certificate chains to (PEM). */
  trustBundlePem: string;
  /** The token itself, or the file it is mounted at (read on every call: the kubelet rotates it). Exactly one. */
  token?: string;
  tokenFile?: string;
  /** 2048-8192, default 2048. */
  keyBits?: number;
  /** The whole exchange, connection included: 1-600000, default 10000. */
  timeoutMs?: number;
  /** Asks for a shorter lifetime than the CA's maximum; 0 (the default) takes the maximum. */
  validitySeconds?: number;
  /** The name to check the CA's certificate against when it differs from caAddr's host. */
  serverName?: string;
}

type CheckedRequest = Required<Pick<RequestWorkloadCertificateOptions, 'caAddr' | 'trustBundlePem' | 'keyBits' | 'timeoutMs' | 'validitySeconds'>> &
  Pick<RequestWorkloadCertificateOptions, 'token' | 'tokenFile' | 'serverName'>;

/** Checked by hand: this runs in the sidecar, which loads no schema library. Unknown keys are ignored. */
function checkRequestOptions(input: unknown, issues: Issues): CheckedRequest | undefined {
  const o = readObject(input, [], issues);
  if (o === undefined) return undefined;
  const optionalString = (key: string) => (o[key] === undefined ? undefined : readString(o[key], [key], issues, { min: 1 }));
  const caAddr = readString(o.caAddr, ['caAddr'], issues, { min: 1 });
  const trustBundlePem = readString(o.trustBundlePem, ['trustBundlePem'], issues, { min: 1 });
  const token = optionalString('token');
  const tokenFile = optionalString('tokenFile');
  const keyBits = readKeyBits(o.keyBits, issues);
  const timeoutMs = o.timeoutMs === undefined ? 10_000 : readInteger(o.timeoutMs, ['timeoutMs'], issues, { min: 1, max: 600_000 });
  const validitySeconds = o.validitySeconds === undefined ? 0 : readInteger(o.validitySeconds, ['validitySeconds'], issues, { min: 0, max: 2 ** 32 - 1 });
  const serverName = optionalString('serverName');
  if (issues.length > 0) return undefined;
  if ((token === undefined) === (tokenFile === undefined)) {
    issues.push({ path: ['token'], message: 'give exactly one of "token" and "tokenFile"' });
    return undefined;
  }
  return {
    caAddr: caAddr as string,
    trustBundlePem: trustBundlePem as string,
    token,
    tokenFile,
    keyBits: keyBits as number,
    timeoutMs: timeoutMs as number,
    validitySeconds: validitySeconds as number,
    serverName,
  };
}

export interface IssuedWorkloadCertificate {
  /** PKCS#8 PEM of the fresh private key; it never left the process. */
  keyPem: string;
  certPem: string;
  /** Every root peers may present certificates from (old and new during a rotation). */
  trustBundlePem: string;
  notBefore: Date;
  notAfter: Date;
  spiffeId: string;
  serialNumber: string;
}

/**
 * A failed request to the CA. `grpcStatus` is what the CA (or the channel) answered, so a
 * caller can retry UNAVAILABLE soon and an UNAUTHENTICATED later; `remoteCode` is the CA's
 * `CA_ERR_*` reason when it gave one.
 */
export class CaRequestError extends MeshtapError {
  /** A gRPC status code (`GRPC_STATUS` in lib/grpc-client/status.ts). */
  readonly grpcStatus: number;
  readonly remoteCode: string | undefined;
  constructor(code: string, message: string, grpcStatus: number, remoteCode: string | undefined, cause: unknown) {
    super(code, message, { cause });
    this.name = 'CaRequestError';
    this.grpcStatus = grpcStatus;
    this.remoteCode = remoteCode;
  }
}

export async function requestWorkloadCertificate(options: RequestWorkloadCertificateOptions): Promise<IssuedWorkloadCertificate> {
  const opts = checkCaOptions('requestWorkloadCertificate', options, checkRequestOptions);
  const deadline = Date.now() + opts.timeoutMs;
  const token = opts.token ?? (await readToken(opts.tokenFile as string));
  const { keyPem, csrPem } = createWorkloadCsr({ keyBits: opts.keyBits });
  let ca: string;
  try {
    ca = parseTrustBundle(opts.trustBundlePem, { source: 'trustBundlePem' }).join('');
  } catch (err) {
    if (isMeshtapError(err)) throw err;
    throw caError(CA_ERR_CA_UNAVAILABLE, `the trust bundle cannot be used to verify the CA: ${(err as Error).message}`, err);
  }
  let response: SignResponseMessage;
  try {
    response = await unaryRequest(
      { address: opts.caAddr, tls: { ca, ...(opts.serverName ? { servername: opts.serverName } : {}) }, ...(opts.serverName ? { authority: opts.serverName } : {}) },
      CA_CLIENT_SERVICE.Sign,
      { csr_pem: csrPem, validity_seconds: opts.validitySeconds },
      { deadline, metadata: { authorization: `Bearer ${token}` } },
    );
  } catch (err) {
    if (err instanceof GrpcCallError) throw callFailure(err, opts.caAddr, opts.timeoutMs);
    throw err;
  }
  return checkResponse(response, keyPem, opts.caAddr);
}

async function readToken(file: string): Promise<string> {
  let token: string;
  try {
    token = (await readFile(file, 'utf8')).trim();
  } catch (err) {
    throw tlsError(CA_ERR_READ, `cannot read the service-account token ${file}: ${(err as Error).message}`, err);
  }
  if (token === '') throw caError(CA_ERR_TOKEN_MISSING, `the service-account token file ${file} is empty`);
  return token;
}

function callFailure(err: GrpcCallError, caAddr: string, timeoutMs: number): CaRequestError {
  const details = err.details || err.message;
  const remote = /^(CA_ERR_[A-Z_]+): /.exec(details);
  const remoteCode = remote?.[1];
  const name = statusName(err.code);
  switch (err.code) {
    case GRPC_STATUS.UNAVAILABLE:
      return new CaRequestError(CA_ERR_CA_UNAVAILABLE, `the CA at ${caAddr} is unavailable (UNAVAILABLE): ${details}`, err.code, remoteCode, err);
    case GRPC_STATUS.DEADLINE_EXCEEDED:
      return new CaRequestError(CA_ERR_CA_UNAVAILABLE, `the CA at ${caAddr} did not answer within ${timeoutMs} ms (DEADLINE_EXCEEDED)`, err.code, remoteCode, err);
    case GRPC_STATUS.UNAUTHENTICATED:
    case GRPC_STATUS.PERMISSION_DENIED:
      return new CaRequestError(CA_ERR_CA_UNAUTHENTICATED, `the CA at ${caAddr} refused the token (${name}): ${details}`, err.code, remoteCode, err);
    default:
      return new CaRequestError(CA_ERR_CA_REFUSED, `the CA at ${caAddr} answered ${name}: ${details}`, err.code, remoteCode, err);
  }
}

/** An answer is used only if the certificate holds our key, chains to the bundle and names the identity. */
function checkResponse(res: SignResponseMessage, keyPem: string, caAddr: string): IssuedWorkloadCertificate {
  const bad = (why: string, cause?: unknown) => caError(CA_ERR_CA_BAD_RESPONSE, `the CA at ${caAddr} answered an unusable certificate: ${why}`, cause);
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(res.cert_chain_pem);
  } catch (err) {
    throw bad(`it does not parse (${(err as Error).message})`, err);
  }
  if (!cert.checkPrivateKey(createPrivateKey(keyPem))) throw bad('it is not for the key this request sent');
  let roots: X509Certificate[];
  try {
    roots = parseTrustBundle(res.trust_bundle_pem, { source: 'the returned trust bundle' }).map((pem) => new X509Certificate(pem));
  } catch (err) {
    throw bad((err as Error).message, err);
  }
  // The bundle came over a channel authenticated with our trust bundle, so it may add a new root.
  if (!roots.some((root) => cert.checkIssued(root) && cert.verify(root.publicKey))) throw bad('it was not issued by any root in the returned trust bundle');
  if (cert.subjectAltName !== `URI:${res.spiffe_id}`) {
    throw bad(`its SAN ${JSON.stringify(cert.subjectAltName ?? '')} is not the announced identity ${res.spiffe_id}`);
  }
  return {
    keyPem,
    certPem: cert.toString(),
    trustBundlePem: roots.map((r) => r.toString()).join(''),
    notBefore: cert.validFromDate,
    notAfter: cert.validToDate,
    spiffeId: res.spiffe_id,
    serialNumber: res.serial_number,
  };
}
