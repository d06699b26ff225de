/**
 * A throwaway PostgreSQL 15 cluster for tests: initdb into a temporary directory (SCRAM
 * passwords, no fsync), the server on a free loopback port, stopped and removed at teardown.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { childOutput } from './child-output.ts';
import { freePort } from './recording-relay.ts';
import { stopOnTeardown } from './server-process.ts';

export const PG_BIN = '/usr/lib/postgresql/15/bin';
export const PG_PASSWORD = 'Sup3r-s3cret-pw!';

function uidOf(user: string): { uid: number; gid: number } {
  const uid = Number(spawnSync('id', ['-u', user], { encoding: 'utf8' }).stdout.trim());
  const gid = Number(spawnSync('id', ['-g', user], { encoding: 'utf8' }).stdout.trim());
  return { uid, gid };
}

const asPostgres = (cmd: string, args: string[]): [string, string[]] => [
  'setpriv',
  ['--reuid=postgres', '--regid=postgres', '--clear-groups', cmd, ...args],
];

async function waitReady(port: number, server: ChildProcess): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (server.exitCode !== null) throw new Error(`postgres exited with ${server.exitCode}`);
    const ok = spawnSync(join(PG_BIN, 'pg_isready'), ['-h', '127.0.0.1', '-p', String(port)]).status === 0;
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('postgres did not become ready');
}

/** Starts a cluster (user `postgres`, password `PG_PASSWORD`) and resolves with its port. */
export async function startPostgres(t: { teardown(fn: () => unknown): void }): Promise<number> {
  if (!existsSync(join(PG_BIN, 'postgres'))) throw new Error(`PostgreSQL 15 is not installed (${PG_BIN}): run scripts/install-system-deps.sh`);
  const base = mkdtempSync(join(tmpdir(), 'meshtap-pg-'));
  t.teardown(() => rmSync(base, { recursive: true, force: true }));
  const { uid, gid } = uidOf('postgres');
  chownSync(base, uid, gid);
  const data = join(base, 'data');
  const sock = join(base, 'sock');
  mkdirSync(sock);
  chownSync(sock, uid, gid);
  const pwfile = join(base, 'pw');
  writeFileSync(pwfile, `${PG_PASSWORD}\n`);
  chownSync(pwfile, uid, gid);

  const [initCmd, initArgs] = asPostgres(join(PG_BIN, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=scram-sha-256', `--pwfile=${pwfile}`, '-E', 'UTF8', '--no-sync', '--locale=C']);
  const init = spawnSync(initCmd, initArgs, { encoding: 'utf8' });
  if (init.status !== 0) throw new Error(`initdb failed: ${init.stderr}`);

  const port = await freePort();
  const [pgCmd, pgArgs] = asPostgres(join(PG_BIN, 'postgres'), ['-D', data, '-p', String(port), '-k', sock, '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off']);
  const server = spawn(pgCmd, pgArgs, { stdio: ['ignore', 'ignore', 'pipe'] });
  let serverLog = '';
  server.stderr?.on('data', (d: Buffer) => (serverLog += d.toString()));
  stopOnTeardown(t, server, 'SIGINT', 10_000);
  await waitReady(port, server).catch((err: unknown) => {
    throw new Error(`${String(err)}\n${serverLog}`);
  });
  return port;
}

/** Runs psql against `port` (plaintext allowed, SSL tried first), `stdin` piped in; never rejects. */
export async function runPsql(port: number, args: string[], stdin = ''): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const p = spawn('psql', ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', '-d', 'postgres', '-X', '-A', '-t', ...args], {
    env: { ...process.env, PGPASSWORD: PG_PASSWORD, PGSSLMODE: 'prefer', PGGSSENCMODE: 'disable', PGCONNECT_TIMEOUT: '10' },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const output = childOutput(p, 20_000);
  p.stdin.end(stdin);
  const { code, stdout, stderr } = await output;
  return { status: code, stdout, stderr };
}
