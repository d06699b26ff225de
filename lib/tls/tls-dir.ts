import { randomBytes, createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { chmod, link, lstat, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { CertBundle } from './cert-bundle.ts';
import {
  CA_ERR_BAD_BUNDLE,
  CA_ERR_BAD_PEM,
  CA_ERR_EXISTS,
  CA_ERR_KEY_MISMATCH,
  CA_ERR_READ,
  CA_ERR_WRITE,
  tlsError,
} from './errors.ts';
import { splitPem } from './pem.ts';
import { parseTrustBundle } from './trust-bundle.ts';

/** The key names of a Kubernetes TLS Secret, used as file names so a Secret mounts as-is. */
export const TLS_CERT_FILE = 'tls.crt';
export const TLS_KEY_FILE = 'tls.key';
export const CA_CERT_FILE = 'ca.crt';

export interface WriteTlsDirOptions {
  /** Replace an existing `tls.key`. Without it, an existing key is never touched. */
  overwrite?: boolean;
}

export interface TlsDirPaths {
  cert: string;
  key: string;
  ca: string;
}

export function tlsDirPaths(dir: string): TlsDirPaths {
  return { cert: join(dir, TLS_CERT_FILE), key: join(dir, TLS_KEY_FILE), ca: join(dir, CA_CERT_FILE) };
}

/**
 * Writes a bundle as `tls.crt`, `tls.key` (0600) and `ca.crt`, creating the directory (0700).
 * Each file is written aside and renamed into place, so a reader never sees half a file. When
 * not overwriting, the key is linked into place, which fails if one appeared meanwhile: a key,
 * perhaps a CA's, is never replaced by accident.
 */
export async function writeTlsDir(dir: string, bundle: CertBundle, options: WriteTlsDirOptions = {}): Promise<TlsDirPaths> {
  const paths = tlsDirPaths(dir);
  const refuse = () =>
    tlsError(CA_ERR_EXISTS, `${paths.key} already exists; refusing to replace a private key (overwrite it explicitly, e.g. with --force)`);
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw tlsError(CA_ERR_WRITE, `cannot create directory ${dir}: ${(err as Error).message}`, err);
  }
  if (!options.overwrite && (await exists(paths.key))) throw refuse();
  await place(paths.key, bundle.key, 0o600, options.overwrite ? 'rename' : 'link', refuse);
  await place(paths.cert, bundle.cert, 0o644, 'rename', refuse);
  await place(paths.ca, bundle.ca, 0o644, 'rename', refuse);
  return paths;
}

async function place(
  path: string,
  content: string,
  mode: number,
  how: 'rename' | 'link',
  refuse: () => Error,
): Promise<void> {
  const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    await writeFile(tmp, content, { mode, flag: 'wx' });
    await chmod(tmp, mode);
    if (how === 'rename') {
      await rename(tmp, path);
    } else {
      await link(tmp, path);
      await rm(tmp);
    }
  } catch (err) {
    await rm(tmp, { force: true });
    if ((err as NodeJS.ErrnoException).code === 'EEXIST' && how === 'link') throw refuse();
    throw tlsError(CA_ERR_WRITE, `cannot write ${path}: ${(err as Error).message}`, err);
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw tlsError(CA_ERR_READ, `cannot check ${path}: ${(err as Error).message}`, err);
  }
}

/**
 * Reads a directory written by `writeTlsDir` (or a mounted TLS Secret) and checks it: each file
 * parses, the key belongs to the certificate, and the certificate was issued by a CA in
 * `ca.crt`. Every error names the file at fault.
 */
export async function readTlsDir(dir: string): Promise<CertBundle> {
  const paths = tlsDirPaths(dir);
  // Read together, reported in a fixed order: with several files missing, the error always
  // names the certificate first rather than whichever read happened to fail first.
  const reads = await Promise.allSettled([read(paths.cert), read(paths.key), read(paths.ca)]);
  const failed = reads.find((r) => r.status === 'rejected');
  if (failed !== undefined) throw (failed as PromiseRejectedResult).reason;
  const [cert, key, ca] = reads.map((r) => (r as PromiseFulfilledResult<string>).value);

  const certBlocks = splitPem(cert, paths.cert);
  if (certBlocks.length === 0 || certBlocks[0].label !== 'CERTIFICATE') {
    throw tlsError(CA_ERR_BAD_PEM, `${paths.cert}: expected a PEM CERTIFICATE block first`);
  }
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(certBlocks[0].pem);
  } catch (err) {
    throw tlsError(CA_ERR_BAD_PEM, `${paths.cert}: the certificate cannot be parsed: ${(err as Error).message}`, err);
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(key);
  } catch (err) {
    throw tlsError(CA_ERR_BAD_PEM, `${paths.key}: the private key cannot be parsed: ${(err as Error).message}`, err);
  }
  if (!x509.checkPrivateKey(privateKey)) {
    throw tlsError(CA_ERR_KEY_MISMATCH, `${paths.key} does not belong to the certificate in ${paths.cert}`);
  }
  const trusted = parseTrustBundle(ca, { source: paths.ca }).map((pem) => new X509Certificate(pem));
  if (!trusted.some((c) => x509.checkIssued(c) && x509.verify(c.publicKey))) {
    throw tlsError(CA_ERR_BAD_BUNDLE, `${paths.cert} (${x509.subject || x509.subjectAltName}) was not issued by any CA in ${paths.ca}`);
  }
  return { cert, key, ca };
}

async function read(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'file is missing' : (err as Error).message;
    throw tlsError(CA_ERR_READ, `cannot read ${path}: ${why}`, err);
  }
}
