/**
 * A throwaway MariaDB server for tests: a data directory in a temporary directory, the server
 * on a free loopback port, a user `app` (password `MYSQL_PASSWORD`) owning database `shop`;
 * stopped and removed at teardown.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { childOutput } from './child-output.ts';
import { freePort } from './recording-relay.ts';
import { stopOnTeardown } from './server-process.ts';

export const MARIADB_SERVER = '/usr/sbin/mariadbd';
export const MYSQL_PASSWORD = 'Sup3r-s3cret-pw!';

/** Runs a command without blocking the event loop (relays and proxies live on it); never rejects. */
export async function runCommand(cmd: string, args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const { code, stdout, stderr } = await childOutput(spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] }), 30_000);
  return { status: code, stdout, stderr };
}

async function waitReady(sock: string, server: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (server.exitCode !== null) throw new Error(`mariadbd exited with ${server.exitCode}\n${log()}`);
    if ((await runCommand('mariadb-admin', ['--no-defaults', '-S', sock, '-u', 'root', 'ping'])).status === 0) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`mariadbd did not become ready\n${log()}`);
}

/** Starts a server with user `app` and database `shop`; resolves with its port. */
export async function startMariadb(t: { teardown(fn: () => unknown): void }): Promise<number> {
  if (!existsSync(MARIADB_SERVER)) throw new Error(`MariaDB is not installed (${MARIADB_SERVER}): run scripts/install-system-deps.sh`);
  const base = mkdtempSync(join(tmpdir(), 'meshtap-mysql-'));
  t.teardown(() => rmSync(base, { recursive: true, force: true }));
  const data = join(base, 'data');
  const sock = join(base, 'sock');
  const init = spawnSync('mariadb-install-db', ['--no-defaults', '--user=root', `--datadir=${data}`, '--auth-root-authentication-method=normal', '--skip-test-db'], { encoding: 'utf8' });
  if (init.status !== 0) throw new Error(`mariadb-install-db failed: ${init.stderr}`);

  const port = await freePort();
  const server = spawn(
    MARIADB_SERVER,
    ['--no-defaults', '--user=root', `--datadir=${data}`, `--socket=${sock}`, `--port=${port}`, '--bind-address=127.0.0.1', `--pid-file=${join(base, 'pid')}`, '--skip-log-bin', '--innodb-buffer-pool-size=16M', '--skip-name-resolve'],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let serverLog = '';
  server.stderr?.on('data', (d: Buffer) => (serverLog += d.toString()));
  stopOnTeardown(t, server, 'SIGTERM', 15_000);
  await waitReady(sock, server, () => serverLog);
  const setup = await runCommand('mariadb', ['--no-defaults', '-S', sock, '-u', 'root', '-e', `CREATE USER 'app'@'%' IDENTIFIED BY '${MYSQL_PASSWORD}'; CREATE DATABASE shop; GRANT ALL ON shop.* TO 'app'@'%';`]);
  if (setup.status !== 0) throw new Error(`setup failed: ${setup.stderr}`);
  return port;
}
