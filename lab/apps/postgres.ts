/**
 * Shop app `postgres`: Debian's PostgreSQL 15 as the pod's container, for `orders`.
 *
 * Runs as the container's (non-root) user, entirely inside a fresh temporary directory: `initdb`
 * into `<tmp>/data`, a `pg_hba.conf` that lets any address in with a SCRAM password (through a
 * sidecar the server sees its clients come from a loopback address) and the socket directory
 * itself for local trust, the shop's role and database created in single-user mode, then
 * `postgres -k <tmp> -c listen_addresses=* -p PG_PORT` in the foreground. The server is ready
 * for the shop as soon as it accepts connections (`pg_isready` is the readiness probe).
 *
 * SIGTERM/SIGINT: a fast shutdown of the server (SIGINT to it), then the temporary directory is
 * removed and the app exits 0. If the server dies on its own, the directory is removed too and
 * the app exits 1.
 *
 * Env: PG_PORT (5432), PG_BIN (/usr/lib/postgresql/15/bin), PG_DATABASE (shop), PG_USER (shop),
 * PG_PASSWORD (a lab-only value; the same default as `orders`).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, envInt, envString, loadConfig, log } from './_common.ts';

const IDENT = /^[a-z_][a-z0-9_]{0,62}$/;

const config = loadConfig('postgres', () => {
  const c = {
    port: envInt('PG_PORT', 5432, { min: 1, max: 65535 }),
    bin: envString('PG_BIN', '/usr/lib/postgresql/15/bin'),
    database: envString('PG_DATABASE', 'shop'),
    user: envString('PG_USER', 'shop'),
    password: envString('PG_PASSWORD', 'meshtap-lab-only-orders-pw'),
  };
  for (const [name, value] of [
    ['PG_DATABASE', c.database],
    ['PG_USER', c.user],
  ] as const) {
    if (!IDENT.test(value)) throw new ConfigError(`${name}=${JSON.stringify(value)}: expected a lower-case SQL identifier`);
  }
  if (c.user === 'postgres') throw new ConfigError('PG_USER="postgres": that is the superuser initdb creates; pick another name');
  return c;
});

const program = (name: string) => join(config.bin, name);
for (const name of ['initdb', 'postgres']) {
  if (!existsSync(program(name))) {
    log('postgres', { level: 'error', msg: `${program(name)} not found: install Debian's postgresql (apt-get install -y postgresql) or set PG_BIN` });
    process.exit(1);
  }
}

const dir = mkdtempSync(join(tmpdir(), 'meshtap-pg-'));
const data = join(dir, 'data');
let server: ChildProcess | undefined;
/** initdb or the single-user run, while one is going. */
let setup: ChildProcess | undefined;
let stopping = false;

function cleanup(): void {
  rmSync(dir, { recursive: true, force: true });
}

/** Runs a PostgreSQL program to completion; its output goes to our log, as the server's does. */
function run(name: string, args: string[], input?: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(program(name), args, { stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    setup = child;
    let output = '';
    child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      // Single-user mode reports a failed statement on its output but still exits 0.
      if (code === 0 && !/^\s*ERROR:/m.test(output)) resolve();
      else reject(new Error(`${name} failed (${signal ?? `exit ${code}`}):\n${output.trim().split('\n').slice(-15).join('\n')}`));
    });
    if (input !== undefined) child.stdin!.end(input);
  });
}

const literal = (s: string) => `'${s.replace(/'/g, "''")}'`;

async function start(): Promise<void> {
  log('postgres', { msg: 'initdb', dir });
  await run('initdb', ['-D', data, '-U', 'postgres', '-E', 'UTF8', '--no-locale', '--no-sync', '--auth-local=trust', '--auth-host=scram-sha-256']);
  writeFileSync(
    join(data, 'pg_hba.conf'),
    [
      '# meshtap lab: written by lab/apps/postgres.ts',
      '# TYPE  DATABASE  USER  ADDRESS      METHOD',
      'local   all       all                trust',
      'host    all       all   0.0.0.0/0    scram-sha-256',
      'host    all       all   ::/0         scram-sha-256',
      '',
    ].join('\n'),
  );
  // The shop's role and database, before anything can connect. One statement per line.
  await run('postgres', ['--single', '-D', data, '-c', 'password_encryption=scram-sha-256', 'postgres'], [
    `CREATE ROLE ${config.user} LOGIN PASSWORD ${literal(config.password)};`,
    `CREATE DATABASE ${config.database} OWNER ${config.user};`,
    '',
  ].join('\n'));
  log('postgres', { msg: 'created', database: config.database, user: config.user });
  if (stopping) return;

  server = spawn(
    program('postgres'),
    ['-D', data, '-k', dir, '-c', 'listen_addresses=*', '-p', String(config.port), '-c', 'max_connections=30', '-c', 'shared_buffers=16MB', '-c', 'fsync=off', '-c', 'log_min_messages=warning'],
    { stdio: ['ignore', 'inherit', 'inherit'] },
  );
  log('postgres', { msg: 'starting', port: config.port, pid: server.pid, pod: process.env.HOSTNAME });
  server.once('exit', (code, signal) => {
    cleanup();
    if (stopping) {
      log('postgres', { msg: 'stopped', code, signal });
      process.exit(0);
    }
    log('postgres', { level: 'error', msg: 'the server exited', code, signal });
    process.exit(1);
  });
}

function stop(signal: string): void {
  if (stopping) return;
  stopping = true;
  log('postgres', { msg: 'stopping', signal });
  if (server && server.exitCode === null && server.signalCode === null) {
    // Fast shutdown: roll back open transactions, disconnect clients, stop.
    server.kill('SIGINT');
    setTimeout(() => {
      server?.kill('SIGKILL');
    }, 4000).unref();
  } else {
    setup?.kill('SIGKILL');
    cleanup();
    process.exit(0);
  }
}
process.once('SIGTERM', () => stop('SIGTERM'));
process.once('SIGINT', () => stop('SIGINT'));

try {
  await start();
} catch (err) {
  log('postgres', { level: 'error', msg: 'could not start PostgreSQL', error: (err as Error).message });
  cleanup();
  process.exit(1);
}
