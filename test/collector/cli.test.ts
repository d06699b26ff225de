/** `meshtap collector` as a real process, queried over HTTP. */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { createServer, type AddressInfo } from 'node:net';
import t from 'tap';
import { run } from '../../collector/cli.ts';
import { createShipper } from '../../sidecar/shipper/create-shipper.ts';
import { fullRecord, minimalRecord } from '../proto/record-fixtures.ts';
import { waitFor } from './helpers.ts';

const repo = fileURLToPath(new URL('../..', import.meta.url));

interface Spawned {
  child: ChildProcess;
  grpcPort: number;
  httpPort: number;
  output: () => string;
}

async function spawnCollector(args: string[]): Promise<Spawned> {
  // These tests are about ingest and queries; authentication has its own tests (auth.test.ts).
  const auth = args.includes('--auth') ? [] : ['--auth', 'none'];
  // Its own process group: npx does not pass signals on, so the test signals the whole group.
  const child = spawn('npx', ['meshtap', 'collector', ...auth, ...args], { cwd: repo, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let out = '';
  child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (out += chunk.toString()));
  let listening: { grpcPort: number; httpPort: number } | undefined;
  await waitFor(
    'the listening line',
    () => {
      for (const line of out.split('\n')) {
        if (!line.startsWith('{')) continue;
        const entry = JSON.parse(line) as { msg: string; grpcPort: number; httpPort: number };
        if (entry.msg === 'collector listening') listening = entry;
      }
      if (child.exitCode !== null) throw new Error(`collector exited early: ${out}`);
      return listening !== undefined;
    },
    30_000,
  );
  return { child, grpcPort: listening!.grpcPort, httpPort: listening!.httpPort, output: () => out };
}

async function getJson(port: number, path: string, token?: string): Promise<{ status: number; body: any; type: string | null }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, token ? { headers: { authorization: `Bearer ${token}` } } : {});
  const type = res.headers.get('content-type');
  const text = await res.text();
  return { status: res.status, type, body: type?.includes('json') ? JSON.parse(text) : text };
}

void t.test('meshtap collector: ingest over gRPC, API over HTTP, clean stop on SIGTERM', async (t) => {
  const c = await spawnCollector(['--grpc-port', '0', '--http-port', '0', '--host', '127.0.0.1', '--max-records', '50']);
  const stdoutClosed = once(c.child.stdout!, 'close');
  let stopped = false;
  t.teardown(() => {
    if (!stopped) process.kill(-c.child.pid!, 'SIGKILL');
  });
  t.ok(c.grpcPort > 0 && c.httpPort > 0, 'bound ports logged');

  const health = await getJson(c.httpPort, '/healthz');
  t.equal(health.status, 200);
  t.same(health.body, { status: 'ok' });

  const shipper = createShipper({ collectorAddr: `127.0.0.1:${c.grpcPort}`, batchLingerMs: 10 });
  for (let i = 0; i < 60; i++) shipper.offer(i === 59 ? minimalRecord(59) : fullRecord(i));
  await waitFor('shipped', () => shipper.stats().shipped === 60);
  await shipper.close({ drainMs: 1000 });

  const three = await getJson(c.httpPort, '/api/calls?limit=3');
  t.equal(three.status, 200);
  t.same(three.body.calls.map((r: { id: string }) => r.id), ['min-59', 'rec-58', 'rec-57'], 'newest first');
  const all = await getJson(c.httpPort, '/api/calls');
  t.equal(all.body.calls.length, 50, 'default limit, bounded by --max-records');
  const rec = three.body.calls[1];
  t.equal(rec.start, fullRecord(58).start.toString(), 'ns time as a decimal string');
  t.same(rec.request.body, { text: JSON.stringify({ order: 58, password: '***' }) });
  t.same(rec.response.body, { base64: '/wD+gA==' });
  t.equal(rec.src.namespace, 'shop');

  const one = await getJson(c.httpPort, '/api/calls/rec-58');
  t.equal(one.status, 200);
  t.same(one.body.call, rec);
  const missing = await getJson(c.httpPort, '/api/calls/nope');
  t.equal(missing.status, 404);
  t.equal(missing.body.error.code, 'COL_ERR_NOT_FOUND');
  t.match(missing.body.error.message, /nope/);

  for (const bad of ['abc', '0', '1001', '-5', '2.5', '']) {
    const res = await getJson(c.httpPort, `/api/calls?limit=${bad}`);
    t.equal(res.status, 400, `limit=${bad} is a 400`);
    t.equal(res.body.error?.code, 'COL_ERR_BAD_QUERY');
    t.match(res.body.error?.message, /limit must be an integer from 1 to 1000/);
  }
  t.equal((await getJson(c.httpPort, '/api/calls?limit=1000')).status, 200, 'the maximum is allowed');
  const since = await getJson(c.httpPort, `/api/calls?since=${fullRecord(57).start}`);
  t.same(since.body.calls.map((r: { id: string }) => r.id), ['rec-58', 'rec-57'], 'since (min-59 starts at 0)');
  t.equal((await getJson(c.httpPort, '/api/calls?since=tomorrow')).status, 400);
  t.equal((await getJson(c.httpPort, '/no/such/route')).status, 404);

  const metrics = await getJson(c.httpPort, '/metrics');
  t.equal(metrics.status, 200);
  t.match(metrics.type, /text\/plain/);
  t.match(metrics.body, /^meshtap_collector_records_received_total 60$/m);
  t.match(metrics.body, /^meshtap_collector_records_stored_total 60$/m);
  t.match(metrics.body, /^meshtap_collector_batches_received_total \d+$/m);
  t.match(metrics.body, /^meshtap_collector_records_rejected_total\{reason="missing_id"\} 0$/m);
  t.match(metrics.body, /^meshtap_collector_grpc_streams_active 0$/m);
  t.match(metrics.body, /^meshtap_collector_store_records 50$/m);

  process.kill(-c.child.pid!, 'SIGTERM');
  await stdoutClosed; // every process of the group that held the pipe is gone
  stopped = true;
  t.match(c.output(), /"msg":"collector stopping","signal":"SIGTERM"/);
  t.match(c.output(), /"msg":"collector stopped"/);
});

void t.test('run() returns 0 after SIGTERM, having stopped serving', async (t) => {
  const lines: string[] = [];
  const io = {
    stdin: process.stdin,
    stdout: { write: (s: string) => lines.push(s) } as unknown as NodeJS.WritableStream,
    stderr: { write: (s: string) => lines.push(s) } as unknown as NodeJS.WritableStream,
    env: {},
  };
  const listenersBefore = process.listenerCount('SIGTERM');
  const exit = run(['--grpc-port', '0', '--http-port', '0', '--host', '127.0.0.1'], io);
  await waitFor('listening', () => lines.some((l) => l.includes('collector listening')));
  const { httpPort } = JSON.parse(lines.find((l) => l.includes('collector listening'))!) as { httpPort: number };
  t.equal((await getJson(httpPort, '/healthz')).status, 200);
  process.emit('SIGTERM', 'SIGTERM');
  t.equal(await exit, 0);
  await t.rejects(fetch(`http://127.0.0.1:${httpPort}/healthz`), 'no longer listening');
  t.equal(process.listenerCount('SIGTERM'), listenersBefore, 'its signal handlers removed');
});

void t.test('usage: --help exits 0, bad flags exit 2 with the flag named', async (t) => {
  const chunks: string[] = [];
  const io = {
    stdin: process.stdin,
    stdout: { write: (s: string) => chunks.push(s) } as unknown as NodeJS.WritableStream,
    stderr: { write: (s: string) => chunks.push(s) } as unknown as NodeJS.WritableStream,
    env: {},
  };
  t.equal(await run(['--help'], io), 0);
  t.match(chunks.join(''), /--grpc-port/);
  await t.rejects(run(['--grpc-port', 'x'], io), { code: 'CLI_ERR_USAGE', message: /--grpc-port/ });
  await t.rejects(run(['--max-records', '0'], io), { code: 'CLI_ERR_USAGE', message: /--max-records/ });
  await t.rejects(run(['--bogus'], io), { code: 'CLI_ERR_USAGE' });
  await t.rejects(run([], { ...io, env: { MESHTAP_COLLECTOR_HTTP_PORT: '99999' } }), { message: /MESHTAP_COLLECTOR_HTTP_PORT/ });

  const p = spawn('npx', ['meshtap', 'collector', '--http-port', 'nope'], { cwd: repo, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  p.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  const [code] = await once(p, 'exit');
  t.equal(code, 2, 'usage error exits 2');
  t.match(err, /--http-port must be a port number/);
});

void t.test('a failure to listen names the flags that chose the address', async (t) => {
  let stderr = '';
  const io = {
    stdin: process.stdin,
    stdout: { write: () => true } as unknown as NodeJS.WritableStream,
    stderr: { write: (s: string) => (stderr += s) } as unknown as NodeJS.WritableStream,
    env: {},
  };
  const failure = async (args: string[]): Promise<string> => {
    stderr = '';
    t.equal(await run(args, io), 1, 'a runtime failure exits 1');
    return stderr;
  };
  // .invalid never resolves (RFC 6761).
  t.match(
    await failure(['--grpc-port', '0', '--http-port', '0', '--host', 'meshtap-test.invalid']),
    /^meshtap collector: failed to start: COL_ERR_LISTEN: --host meshtap-test\.invalid does not resolve to an address to listen on \(/,
  );
  const taken = createServer();
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  t.teardown(() => taken.close());
  const port = (taken.address() as AddressInfo).port;
  t.equal(
    await failure(['--grpc-port', '0', '--http-port', String(port), '--host', '127.0.0.1']),
    `meshtap collector: failed to start: COL_ERR_LISTEN: cannot listen on 127.0.0.1:${port} for the HTTP API (--host, --http-port): listen EADDRINUSE: address already in use 127.0.0.1:${port}\n`,
  );
  t.match(
    await failure(['--grpc-port', '0', '--http-port', '0', '--host', '127.0.0.1', '--http-host', '192.0.2.1']),
    /COL_ERR_LISTEN: --http-host 192\.0\.2\.1 is not an address of this machine/,
    'the HTTP API\'s own host flag',
  );
});

void t.test('store flags: sqlite by default in memory, --data-dir / --db, retention, full text', async (t) => {
  const { resolveCollectorConfig } = await import('../../collector/config.ts');
  const defaults = resolveCollectorConfig({}, {});
  t.match(defaults, { store: 'sqlite', dbPath: ':memory:', retentionHours: 24, retentionMaxMb: 512, fullTextIndex: true, maxRecords: undefined });
  t.equal(resolveCollectorConfig({ 'data-dir': '/var/lib/meshtap' }, {}).dbPath, '/var/lib/meshtap/meshtap-collector.db');
  t.equal(resolveCollectorConfig({}, { MESHTAP_COLLECTOR_DATA_DIR: '/data' }).dbPath, '/data/meshtap-collector.db');
  t.equal(resolveCollectorConfig({ db: 'x.db' }, { MESHTAP_COLLECTOR_DATA_DIR: '' }).dbPath, 'x.db');
  t.throws(() => resolveCollectorConfig({ db: 'x.db', 'data-dir': '/d' }, {}), { code: 'CLI_ERR_USAGE', message: /--db and --data-dir both name the database/ });
  t.match(resolveCollectorConfig({ 'retention-hours': '0.5', 'retention-max-mb': '64', 'full-text': 'off' }, {}), { retentionHours: 0.5, retentionMaxMb: 64, fullTextIndex: false });
  t.throws(() => resolveCollectorConfig({ 'retention-hours': '0' }, {}), { message: /--retention-hours must be a number of hours from 0.01 \(36 s\) to 876600 \(100 years\), got "0"/ });
  t.throws(() => resolveCollectorConfig({}, { MESHTAP_COLLECTOR_RETENTION_MAX_MB: 'lots' }), { message: /MESHTAP_COLLECTOR_RETENTION_MAX_MB must be a number of MiB from 1 to 1048576/ });
  t.throws(() => resolveCollectorConfig({ 'full-text': 'yes' }, {}), { message: /--full-text must be "on" or "off"/ });
  t.throws(() => resolveCollectorConfig({ store: 'redis' }, {}), { message: /--store must be "memory" or "sqlite"/ });
});

void t.test('a collector with --data-dir keeps its calls across a restart', async (t) => {
  const { mkdtempSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const dir = mkdtempSync(join(tmpdir(), 'meshtap-collector-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const io = (lines: string[]) => ({
    stdin: process.stdin,
    stdout: { write: (s: string) => lines.push(s) } as unknown as NodeJS.WritableStream,
    stderr: { write: (s: string) => lines.push(s) } as unknown as NodeJS.WritableStream,
    env: {},
  });
  for (const round of [1, 2]) {
    const lines: string[] = [];
    const exit = run(['--grpc-port', '0', '--http-port', '0', '--host', '127.0.0.1', '--data-dir', dir], io(lines));
    await waitFor('listening', () => lines.some((l) => l.includes('collector listening')));
    const info = JSON.parse(lines.find((l) => l.includes('collector listening'))!) as { grpcPort: number; httpPort: number; db: string; tokenFile: string };
    t.equal(info.db, join(dir, 'meshtap-collector.db'), 'the listening line names the database');
    // No auth settings: token auth, with a token generated next to the database once and kept.
    t.equal(info.tokenFile, join(dir, 'collector-token'));
    const token = (await import('node:fs')).readFileSync(info.tokenFile, 'utf8').trim();
    if (round === 1) {
      const shipper = createShipper({ collectorAddr: `127.0.0.1:${info.grpcPort}`, batchLingerMs: 10 });
      for (let i = 0; i < 5; i++) shipper.offer(fullRecord(i));
      await waitFor('shipped', () => shipper.stats().shipped === 5);
      await shipper.close({ drainMs: 1000 });
    }
    const res = await getJson(info.httpPort, `/api/calls?filter=${encodeURIComponent('request.body.contains("\\"order\\":3")')}`, token);
    t.same(res.body.calls.map((r: { id: string }) => r.id), ['rec-3'], `round ${round}: stored and searchable`);
    process.emit('SIGTERM', 'SIGTERM');
    t.equal(await exit, 0);
  }
});
