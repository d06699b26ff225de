/**
 * `meshtap collector`'s flags and variables at their edges: bounds, empty values, errors that
 * name what the user set (exit 2), combinations that make no sense, the database directory,
 * and a failure to start said on stderr.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t, { type Test } from 'tap';
import { run } from '../../collector/cli.ts';
import { databaseDirectory, resolveCollectorConfig, resolveCollectorOptions, type CollectorFlags } from '../../collector/config.ts';
import { waitFor } from './helpers.ts';

const bin = fileURLToPath(new URL('../../bin/meshtap.ts', import.meta.url));
const usage = (message: string | RegExp) => ({ code: 'CLI_ERR_USAGE', message });
const config = (flags: CollectorFlags, env: NodeJS.ProcessEnv = {}) => resolveCollectorConfig(flags, env);

function tempDir(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'meshtap-collector-cfg-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function captureIO(env: NodeJS.ProcessEnv = {}) {
  const out: string[] = [];
  const err: string[] = [];
  return {
    out,
    err,
    io: {
      stdin: process.stdin,
      stdout: { write: (s: string) => out.push(s) } as unknown as NodeJS.WritableStream,
      stderr: { write: (s: string) => err.push(s) } as unknown as NodeJS.WritableStream,
      env,
    },
  };
}

void t.test('retention hours: bounded from 0.01 (36 s) to 876600 (100 years), the default kept', async (t) => {
  t.equal(config({}).retentionHours, 24);
  t.equal(config({ 'retention-hours': '0.01' }).retentionHours, 0.01);
  t.equal(config({ 'retention-hours': '876600' }).retentionHours, 876_600);
  const expected = 'must be a number of hours from 0.01 (36 s) to 876600 (100 years)';
  t.throws(() => config({ 'retention-hours': '10000000' }), usage(`--retention-hours ${expected}, got "10000000"`));
  t.throws(() => config({ 'retention-hours': '876600.5' }), usage(/--retention-hours must be/));
  t.throws(() => config({ 'retention-hours': '0.0000001' }), usage(`--retention-hours ${expected}, got "0.0000001"`));
  t.throws(() => config({}, { MESHTAP_COLLECTOR_RETENTION_HOURS: '1e9' }), usage(`MESHTAP_COLLECTOR_RETENTION_HOURS ${expected}, got "1e9"`));
  t.throws(() => resolveCollectorOptions({ retentionHours: 1e7 }), { code: 'COL_ERR_CONFIG', message: /retentionHours \(--retention-hours \/ MESHTAP_COLLECTOR_RETENTION_HOURS\) = 10000000/ });
});

void t.test('retention size and ingest message size: bounded, the documented defaults kept', async (t) => {
  t.equal(config({}).retentionMaxMb, 512);
  t.throws(() => config({ 'retention-max-mb': '0.001' }), usage('--retention-max-mb must be a number of MiB from 1 to 1048576 (1 TiB), got "0.001"'));
  t.throws(() => config({ 'retention-max-mb': '99999999' }), usage(/--retention-max-mb must be a number of MiB from 1 to 1048576/));
  t.equal(config({}).maxIngestMessageBytes, 4 * 1024 * 1024);
  t.equal(config({ 'max-ingest-message-bytes': '65536' }).maxIngestMessageBytes, 65_536);
  t.equal(config({ 'max-ingest-message-bytes': '268435456' }).maxIngestMessageBytes, 256 * 1024 * 1024);
  const expected = 'must be a positive integer from 65536 (64 KiB) to 268435456 (256 MiB)';
  t.throws(() => config({ 'max-ingest-message-bytes': '9999999999999' }), usage(`--max-ingest-message-bytes ${expected}, got "9999999999999"`));
  t.throws(() => config({ 'max-ingest-message-bytes': '100' }), usage(`--max-ingest-message-bytes ${expected}, got "100"`));
  t.throws(
    () => config({}, { MESHTAP_COLLECTOR_MAX_INGEST_MESSAGE_BYTES: '10' }),
    usage(`MESHTAP_COLLECTOR_MAX_INGEST_MESSAGE_BYTES ${expected}, got "10"`),
    'the variable named, not the internal key',
  );
});

void t.test('an empty flag is a usage error naming it; an absent flag or an empty variable gets the default', async (t) => {
  const cases: [keyof CollectorFlags, RegExp][] = [
    ['grpc-port', /^--grpc-port needs a value \(a port number 0-65535\), got ""$/],
    ['http-port', /^--http-port needs a value/],
    ['data-dir', /^--data-dir needs a value/],
    ['db', /^--db needs a value/],
    ['host', /^--host needs a value/],
    ['http-host', /^--http-host needs a value/],
    ['auth-token-file', /^--auth-token-file needs a value/],
    ['inventory-file', /^--inventory-file needs a value/],
    ['tls-cert-dir', /^--tls-cert-dir needs a value/],
    ['kubeconfig', /^--kubeconfig needs a value/],
    ['store', /^--store needs a value/],
    ['retention-hours', /^--retention-hours needs a value/],
    ['max-ingest-rate', /^--max-ingest-rate needs a value/],
  ];
  for (const [flag, message] of cases) t.throws(() => config({ [flag]: '' }), usage(message), `--${flag} ''`);
  t.throws(() => config({ host: '  ' }), usage(/^--host needs a value/), 'blanks count as empty');
  const defaults = config({}, { MESHTAP_COLLECTOR_GRPC_PORT: '', MESHTAP_COLLECTOR_DATA_DIR: '', MESHTAP_COLLECTOR_HOST: '' });
  t.match(defaults, { grpcPort: 9400, httpPort: 8080, host: '0.0.0.0', dbPath: ':memory:' });
});

void t.test('values the schema refuses name the flag or variable and the value (exit 2), never the internal key', async (t) => {
  for (const [flags, env, message] of [
    [{ 'max-ingest-message-bytes': '100' }, {}, /^--max-ingest-message-bytes .*got "100"$/],
    [{}, { MESHTAP_COLLECTOR_MAX_INGEST_MESSAGE_BYTES: '10' }, /^MESHTAP_COLLECTOR_MAX_INGEST_MESSAGE_BYTES .*got "10"$/],
    [{ db: '' }, {}, /^--db needs a value/],
    [{ host: '' }, {}, /^--host needs a value/],
    [{ 'http-host': '' }, {}, /^--http-host needs a value/],
    [{ 'auth-token-file': '' }, {}, /^--auth-token-file needs a value/],
  ] as [CollectorFlags, NodeJS.ProcessEnv, RegExp][]) {
    let thrown: unknown;
    try {
      config(flags, env);
    } catch (err) {
      thrown = err;
    }
    t.match(thrown, usage(message), String(message));
    t.notMatch((thrown as Error).message, /maxIngestMessageBytes|dbPath|httpHost|authTokenFile|Too small/, 'no internal key or schema text');
  }

  const child = spawn(process.execPath, [bin, 'collector', '--max-ingest-message-bytes', '100'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  t.equal(code, 2, 'a usage error exits 2');
  t.match(err, /--max-ingest-message-bytes must be a positive integer from 65536 .* got "100"/);
});

void t.test('combinations that make no sense are usage errors up front', async (t) => {
  t.throws(() => config({ store: 'memory', db: 'x.db' }), usage('--db "x.db" is for --store sqlite, but --store is "memory" (records kept in memory only); drop one of them'));
  t.throws(() => config({ store: 'memory', 'data-dir': '/d' }), usage(/^--data-dir "\/d" is for --store sqlite/));
  t.throws(() => config({}, { MESHTAP_COLLECTOR_STORE: 'memory', MESHTAP_COLLECTOR_DB: 'x.db' }), usage(/^MESHTAP_COLLECTOR_DB "x.db" is for --store sqlite, but MESHTAP_COLLECTOR_STORE is "memory"/));
  t.match(config({ store: 'memory' }), { store: 'memory' });

  t.throws(() => config({ inventory: 'none', 'inventory-file': 'x' }), usage('--inventory-file "x" is for --inventory file (or auto), but --inventory is "none"; drop one of them'));
  t.throws(() => config({ inventory: 'kube', 'inventory-file': 'x' }), usage(/--inventory is "kube"/));
  t.match(config({ inventory: 'file', 'inventory-file': 'x' }), { inventory: 'file', inventoryFile: 'x' });
  t.match(config({ 'inventory-file': 'x' }), { inventory: 'auto', inventoryFile: 'x' });
  t.throws(() => config({ inventory: 'file' }), usage(/--inventory file needs --inventory-file PATH/));

  const samePort = 'the gRPC ingest port (--grpc-port) and the HTTP API port (--http-port) are both 5555: give two different ports (0 picks a free one)';
  t.throws(() => config({ 'grpc-port': '5555', 'http-port': '5555' }), usage(samePort));
  t.throws(() => config({ 'http-port': '9400' }), usage(/\(--grpc-port's default\) and the HTTP API port \(--http-port\) are both 9400/));
  t.throws(() => config({}, { MESHTAP_COLLECTOR_GRPC_PORT: '7000', MESHTAP_COLLECTOR_HTTP_PORT: '7000' }), usage(/\(MESHTAP_COLLECTOR_GRPC_PORT\) .* \(MESHTAP_COLLECTOR_HTTP_PORT\) are both 7000/));
  t.throws(() => config({ 'grpc-port': '5555', 'http-port': '5555', host: '127.0.0.1', 'http-host': '0.0.0.0' }), usage(/both 5555/), 'a wildcard HTTP host overlaps');
  t.match(config({ 'grpc-port': '0', 'http-port': '0' }), { grpcPort: 0, httpPort: 0 }, 'two free ports');
  t.match(
    config({ 'grpc-port': '5555', 'http-port': '5555', host: '10.0.0.1', 'http-host': '127.0.0.1' }),
    { grpcPort: 5555, httpPort: 5555 },
    'two different specific addresses can share a port number',
  );

  t.throws(() => config({}, { MESHTAP_COLLECTOR_AUTH: 'none', MESHTAP_COLLECTOR_AUTH_TOKEN_FILE: '/t' }), usage(/MESHTAP_COLLECTOR_AUTH_TOKEN_FILE is for --auth token, but MESHTAP_COLLECTOR_AUTH is "none"/));
});

void t.test('--host and --http-host: an IPv6 address without brackets, as the webhook and the controller take it', async (t) => {
  // The bracketed form passed the checks (a wildcard even) and then failed to listen: getaddrinfo ENOTFOUND [::].
  t.throws(() => config({ host: '[::]' }), usage('--host takes an IPv6 address without brackets: give "::", got "[::]"'));
  t.throws(() => config({ 'http-host': '[::1]' }), usage('--http-host takes an IPv6 address without brackets: give "::1", got "[::1]"'));
  t.throws(() => config({}, { MESHTAP_COLLECTOR_HOST: '[::]' }), usage('MESHTAP_COLLECTOR_HOST takes an IPv6 address without brackets: give "::", got "[::]"'));
  t.throws(() => config({}, { MESHTAP_COLLECTOR_HTTP_HOST: '[::1]' }), usage(/^MESHTAP_COLLECTOR_HTTP_HOST takes an IPv6 address without brackets: give "::1"/));
  t.throws(() => config({ host: 'a b' }), usage(/^--host must be an IP address or a host name, got "a b": /));
  t.throws(() => config({ 'http-host': '::zz' }), usage('--http-host must be an IP address or a host name, got "::zz": "::zz" is not an IP address'));
  for (const host of ['::', '::1', '0.0.0.0', '127.0.0.1', 'localhost', 'collector.example']) {
    t.match(config({ host, 'http-host': host, 'grpc-port': '0', 'http-port': '0' }), { host, httpHost: host }, `${host} is accepted`);
  }
  t.throws(() => config({ 'grpc-port': '5555', 'http-port': '5555', host: '127.0.0.1', 'http-host': '::' }), usage(/both 5555/), ':: is a wildcard that overlaps');

  // The command refuses it before anything starts (the dispatcher prints it and exits 2), rather than fail to listen (exit 1).
  const { io, out } = captureIO();
  await t.rejects(run(['--grpc-port', '0', '--http-port', '0', '--host', '[::1]', '--auth', 'none'], io), usage(/^--host takes an IPv6 address without brackets/));
  t.same(out, [], 'nothing started, nothing logged');
});

void t.test('databaseDirectory: where the database file goes, for the SQLite store with a file', async (t) => {
  t.equal(databaseDirectory(config({})), undefined, ':memory:');
  t.equal(databaseDirectory(config({ store: 'memory' })), undefined);
  t.equal(databaseDirectory(config({ 'data-dir': '/var/lib/meshtap/new' })), '/var/lib/meshtap/new');
  t.equal(databaseDirectory(config({ db: '/srv/x/calls.db' })), '/srv/x');
  t.equal(databaseDirectory(config({ db: ':memory:' })), undefined);
});

async function stopped(t: Test, exit: Promise<number>, out: string[]): Promise<void> {
  await waitFor('listening', () => out.some((l) => l.includes('collector listening')));
  process.emit('SIGTERM', 'SIGTERM');
  t.equal(await exit, 0);
}

void t.test('--data-dir that does not exist yet is created (mode 0700), nested', async (t) => {
  const dir = join(tempDir(t), 'a', 'new');
  const { io, out } = captureIO();
  const exit = run(['--grpc-port', '0', '--http-port', '0', '--host', '127.0.0.1', '--auth', 'none', '--data-dir', dir], io);
  await stopped(t, exit, out);
  t.ok(existsSync(join(dir, 'meshtap-collector.db')), 'the database is there');
  t.equal(statSync(dir).mode & 0o777, 0o700);
  t.equal(statSync(join(dir, '..')).mode & 0o777, 0o700, 'the parents it made too');
  t.match(out.join(''), /"msg":"database directory created","dir":"[^"]*a\/new"/);
});

void t.test('a database directory that cannot be created: which one and why, on stderr, exit 1', async (t) => {
  const root = tempDir(t);
  writeFileSync(join(root, 'file'), '');
  const dir = join(root, 'file', 'sub');
  const { io, out, err } = captureIO();
  t.equal(await run(['--grpc-port', '0', '--http-port', '0', '--host', '127.0.0.1', '--auth', 'none', '--data-dir', dir], io), 1);
  t.match(err.join(''), new RegExp(`^meshtap collector: failed to start: cannot create the database directory ${dir}: ENOTDIR[^\\n]*\\n$`));
  t.match(out.join(''), /"msg":"collector failed to start"/, 'and the JSON log line');
});

void t.test('a failure to start is one line on stderr as well as the JSON log line; exit 1', async (t) => {
  const dir = tempDir(t);
  const { io, out, err } = captureIO();
  // A directory as the database file: SQLite cannot open it.
  t.equal(await run(['--grpc-port', '0', '--http-port', '0', '--host', '127.0.0.1', '--auth', 'none', '--db', dir], io), 1);
  t.match(err.join(''), new RegExp(`^meshtap collector: failed to start: COL_ERR_STORE: cannot open SQLite store ${dir}: [^\\n]+\\n$`));
  t.match(out.join(''), /"level":"error","msg":"collector failed to start","detail":"COL_ERR_STORE: cannot open SQLite store/);
});
