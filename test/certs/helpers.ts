import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isMeshtapError } from '../../lib/errors.ts';

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a program, resolving with its exit code and output whatever the code. */
export function runProgram(
  file: string,
  args: string[],
  options: { cwd?: string; input?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(file, args, { cwd: options.cwd, env: options.env, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err && typeof err.code !== 'number') {
        reject(err);
        return;
      }
      resolve({ code: err ? (err.code as number) : 0, stdout, stderr });
    });
    if (options.input !== undefined) child.stdin?.end(options.input);
    else child.stdin?.end();
  });
}

/**
 * The environment for a command run as a user would run it: without the test runner's
 * instrumentation hooks, which would load into npm itself and slow every start several-fold.
 */
export function plainEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'NODE_OPTIONS' && !k.startsWith('_TAPJS_')));
}

export function openssl(args: string[], input?: string): Promise<RunResult> {
  return runProgram('openssl', args, { input });
}

/** The X.509 extensions of a certificate as openssl prints them. */
export async function opensslExtensions(certPem: string): Promise<string> {
  const r = await openssl(
    ['x509', '-noout', '-ext', 'basicConstraints,keyUsage,extendedKeyUsage,subjectKeyIdentifier,authorityKeyIdentifier,subjectAltName'],
    certPem,
  );
  if (r.code !== 0) throw new Error(`openssl x509 failed: ${r.stderr}`);
  return r.stdout;
}

export async function tempDir(t: { teardown: (fn: () => unknown) => void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'meshtap-certs-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** The code of the MeshtapError `fn` throws; fails loudly if it throws anything else or nothing. */
export async function errorCode(fn: () => unknown): Promise<{ code: string; message: string }> {
  try {
    await fn();
  } catch (err) {
    if (isMeshtapError(err)) return { code: err.code, message: err.message };
    throw err;
  }
  throw new Error('expected an error, none was thrown');
}

export const HOUR = 3_600_000;
export const DAY = 24 * HOUR;

/** openssl verify of `certPem` against the CA certificates in `caPem`, through files. */
export async function opensslVerify(dir: string, caPem: string, certPem: string, extra: string[] = []): Promise<RunResult> {
  const { writeFile } = await import('node:fs/promises');
  const suffix = Math.random().toString(36).slice(2);
  const caFile = join(dir, `ca-${suffix}.pem`);
  const certFile = join(dir, `cert-${suffix}.pem`);
  await writeFile(caFile, caPem);
  await writeFile(certFile, certPem);
  return openssl(['verify', '-x509_strict', ...extra, '-CAfile', caFile, certFile]);
}
