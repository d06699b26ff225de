/**
 * Protocols beyond HTTP/1 through a real sidecar pair in network namespaces, with real servers
 * and clients: Redis (redis-server, redis-cli), HTTP/2 (node:http2 h2c, curl), gRPC
 * (@grpc/grpc-js: unary, error, streaming, gzip, 1 MiB) and WebSocket (ws). Both sidecars record
 * every call; tshark's HTTP/2 dissection of the wire between the pods agrees on paths and
 * statuses.
 */
import { randomBytes } from 'node:crypto';
import { spawn, spawnSync } from 'node:child_process';
import { appendFile, chmod, chown, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import protobuf from 'protobufjs';
import descriptor from 'protobufjs/ext/descriptor/index.js';
import { spawnInNetns, sh } from '../../lab/netns.ts';
import type { CallRecordJson } from '../../record/record-json.ts';
import { APP_UID, MeshLab, NODE, Proc, REPO, eventually, sleep } from './harness.ts';

const PORTS = { h2cUpgrade: 8083, h2c: 8081, grpc: 50051, ws: 8082, redis: 6380, postgres: 5432, mysql: 3306 };
const MYSQL_PASSWORD = `my-${randomBytes(6).toString('hex')}`;
const PG_BIN = '/usr/lib/postgresql/15/bin';
const PG_PASSWORD = `pg-${randomBytes(6).toString('hex')}`;
const dir = await mkdtemp(join(tmpdir(), 'meshtap-protocols-'));
await chmod(dir, 0o777);
t.teardown(() => rm(dir, { recursive: true, force: true }));
// The server sidecar knows the service's schema (a FileDescriptorSet, as protoc writes it); the client's does not.
const descriptors = join(dir, 'shop.pb');
await writeFile(
  descriptors,
  (descriptor as unknown as { FileDescriptorSet: protobuf.Type }).FileDescriptorSet.encode(
    (new protobuf.Root().loadSync(join(REPO, 'test/fixtures/grpc/shop.proto'), { keepCase: true }) as unknown as { toDescriptor(s: string): protobuf.Message }).toDescriptor('proto3'),
  ).finish(),
);
await chmod(descriptors, 0o644);
const lab = await MeshLab.start({ sidecarEnvFor: { server: { MESHTAP_GRPC_DESCRIPTORS: descriptors } } });
t.teardown(() => lab.destroy());

const apps = lab.adopt(new Proc('protocol-server', spawnInNetns(lab.server.netns, NODE, [join(REPO, 'test/system/protocol-server.ts'), JSON.stringify(PORTS)], { uid: APP_UID, cwd: REPO, env: lab.baseEnv() })));
const redis = lab.adopt(
  new Proc('redis', spawnInNetns(lab.server.netns, 'redis-server', ['--port', String(PORTS.redis), '--bind', '0.0.0.0', '--save', '', '--appendonly', 'no', '--dir', dir, '--protected-mode', 'no'], { uid: APP_UID })),
);
await apps.waitFor(/"ready":true/);
const upgradeServer = lab.adopt(
  new Proc('h2c-upgrade-server', spawnInNetns(lab.server.netns, NODE, [join(REPO, 'test/system/h2c-upgrade-server.ts'), String(PORTS.h2cUpgrade)], { uid: APP_UID, cwd: REPO, env: lab.baseEnv() })),
);
await upgradeServer.waitFor(/"ready":true/);
await redis.waitFor(/Ready to accept connections/);

// PostgreSQL 15 as the server pod's database, run as the postgres user (initdb refuses root).
const pgUser = { uid: Number(spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).stdout), gid: Number(spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).stdout) };
const pgDir = join(dir, 'pg');
await mkdir(pgDir);
await chown(pgDir, pgUser.uid, pgUser.gid);
await writeFile(join(pgDir, 'pw'), `${PG_PASSWORD}\n`);
await chown(join(pgDir, 'pw'), pgUser.uid, pgUser.gid);
const initdb = spawnSync('setpriv', ['--reuid=postgres', '--regid=postgres', '--clear-groups', join(PG_BIN, 'initdb'), '-D', join(pgDir, 'data'), '-U', 'postgres', '--auth=scram-sha-256', `--pwfile=${join(pgDir, 'pw')}`, '--no-sync', '-E', 'UTF8', '--locale=C'], { encoding: 'utf8' });
if (initdb.status !== 0) throw new Error(`initdb: ${initdb.stderr}`);
// Through the sidecar the server sees its clients from a loopback address (as under Istio): allow any.
await appendFile(join(pgDir, 'data', 'pg_hba.conf'), 'host all all 0.0.0.0/0 scram-sha-256\n');
const postgres = lab.adopt(
  new Proc(
    'postgres',
    spawnInNetns(lab.server.netns, join(PG_BIN, 'postgres'), ['-D', join(pgDir, 'data'), '-p', String(PORTS.postgres), '-k', pgDir, '-c', 'listen_addresses=*', '-c', 'fsync=off'], { uid: pgUser.uid, gid: pgUser.gid }),
  ),
);
await postgres.waitFor(/ready to accept connections/);

// MariaDB, Debian's, as a third database in the server pod (server-first: its greeting is detected).
const myDir = join(dir, 'mysql');
const installDb = spawnSync('mariadb-install-db', ['--no-defaults', '--user=root', `--datadir=${join(myDir, 'data')}`, '--auth-root-authentication-method=normal', '--skip-test-db'], { encoding: 'utf8' });
if (installDb.status !== 0) throw new Error(`mariadb-install-db: ${installDb.stderr}`);
const mariadb = lab.adopt(
  new Proc(
    'mariadb',
    spawnInNetns(lab.server.netns, '/usr/sbin/mariadbd', [
      '--no-defaults', '--user=root', `--datadir=${join(myDir, 'data')}`, `--socket=${join(myDir, 'sock')}`, `--port=${PORTS.mysql}`,
      '--bind-address=0.0.0.0', `--pid-file=${join(myDir, 'pid')}`, '--skip-log-bin', '--innodb-buffer-pool-size=16M', '--skip-name-resolve',
    ]),
  ),
);
await mariadb.waitFor(/ready for connections/, 60_000);
const mysqlSetup = spawnSync('ip', ['netns', 'exec', lab.server.netns, 'mariadb', '--no-defaults', '-S', join(myDir, 'sock'), '-u', 'root', '-e', `CREATE USER 'app'@'%' IDENTIFIED BY '${MYSQL_PASSWORD}'; CREATE DATABASE shop; GRANT ALL ON shop.* TO 'app'@'%';`], { encoding: 'utf8' });
if (mysqlSetup.status !== 0) throw new Error(`mariadb setup: ${mysqlSetup.stderr}`);

const marker = () => randomBytes(4).toString('hex');
const text = (m: CallRecordJson['request']) => (m === undefined ? '' : 'text' in m.body ? m.body.text : Buffer.from(m.body.base64, 'base64').toString('latin1'));
const both = (calls: CallRecordJson[]) => ['outbound', 'inbound'].map((o) => calls.filter((c) => c.observer === o));
const redisCli = (...args: string[]) => lab.clientExec('redis-cli', ['-h', lab.server.ip, '-p', String(PORTS.redis), ...args]);

void t.test('redis: commands paired with replies by both sidecars, errors, pipelining, AUTH masked', async (t) => {
  const m = marker();
  t.equal((await redisCli('SET', `cart:${m}`, `tea-${m}`)).stdout.trim(), 'OK');
  t.equal((await redisCli('GET', `cart:${m}`)).stdout.trim(), `tea-${m}`);
  t.match((await redisCli('LPUSH', `cart:${m}`, 'x')).stdout, /WRONGTYPE/);
  const secret = `pw-${m}-hunter2`;
  t.match((await redisCli('AUTH', secret)).stdout, /ERR|AUTH/);
  // Pipelining: three commands written at once on one connection.
  await lab.clientExec('sh', ['-c', `printf 'INCR n:${m}\\r\\nINCR n:${m}\\r\\nGET n:${m}\\r\\n' | redis-cli -h ${lab.server.ip} -p ${PORTS.redis} --pipe`]);

  const calls = await lab.waitForCalls('redis records', (c) => c.protocol === 'redis' && (c.path ?? '').includes(m), 12);
  for (const [label, mine] of both(calls).map((c, i) => [i === 0 ? 'outbound' : 'inbound', c] as const)) {
    const set = mine.find((c) => c.method === 'SET');
    t.match(set, { path: `cart:${m}` }, `${label}: SET with its key`);
    t.equal(text(set?.response), 'OK', `${label}: SET answered OK`);
    const get = mine.find((c) => c.method === 'GET' && c.path === `cart:${m}`);
    t.equal(text(get?.response), `"tea-${m}"`, `${label}: GET answered with the value`);
    t.match(mine.find((c) => c.method === 'LPUSH'), { error: 'server_error', error_detail: /^WRONGTYPE/ }, `${label}: the error reply is an error record`);
    const incr = mine.filter((c) => c.method === 'INCR').sort((a, b) => a.ordinal - b.ordinal);
    t.same(incr.map((c) => text(c.response)), ['(integer) 1', '(integer) 2'], `${label}: pipelined INCRs each with its own reply`);
  }
  const everything = JSON.stringify(await lab.calls(1000));
  t.notOk(everything.includes(secret), 'the AUTH password is nowhere in what the collector holds');
  const auth = (await lab.calls(1000, 'redis && method == "AUTH"')).filter((c) => text(c.request).includes('****'));
  t.ok(auth.length >= 2, 'AUTH recorded by both sidecars, masked');
});

void t.test('h2c: curl with prior knowledge, both sidecars record each stream; tshark agrees on paths and statuses', async (t) => {
  const m = marker();
  const pcap = join(dir, `h2-${m}.pcap`);
  await writeFile(pcap, '');
  await chmod(pcap, 0o666);
  const tshark = lab.adopt(new Proc('tshark', spawn('tshark', ['-i', lab.server.hostIf, '-w', pcap, '-f', `tcp port ${PORTS.h2c}`], { stdio: ['ignore', 'pipe', 'pipe'] })));
  await tshark.waitFor(/Capturing on/);
  await sleep(2000);
  const url = (p: string) => `http://${lab.server.ip}:${PORTS.h2c}${p}`;
  t.equal((await lab.clientExec('curl', ['-sS', '--http2-prior-knowledge', '--data-binary', `body-${m}`, url(`/echo?m=${m}`)])).stdout, `body-${m}`);
  t.equal((await lab.clientExec('curl', ['-sS', '--http2-prior-knowledge', url(`/status/404?m=${m}`)])).stdout, 'status 404');
  await sleep(1000);
  tshark.child.kill('SIGINT');
  await tshark.wait(5000);

  const calls = await lab.waitForCalls('h2 records', (c) => c.protocol === 'http2' && (c.path ?? '').includes(m), 4);
  for (const mine of both(calls)) {
    t.equal(mine.length, 2, `${mine[0]?.observer}: two streams`);
    const echo = mine.find((c) => c.path === `/echo?m=${m}`);
    t.match(echo, { method: 'POST', status_code: 200, response: { trailers: { 'x-served-by': 'protocol-server' } } });
    t.equal(text(echo?.request), `body-${m}`);
    t.equal(text(echo?.response), `body-${m}`);
    t.match(mine.find((c) => c.path === `/status/404?m=${m}`), { method: 'GET', status_code: 404 });
  }
  const { stdout } = await sh('tshark', ['-r', pcap, '-d', `tcp.port==${PORTS.h2c},http2`, '-Y', 'http2.type == 1', '-T', 'fields', '-e', 'http2.headers.path', '-e', 'http2.headers.status']);
  const paths = new Set<string>();
  const statuses = new Set<string>();
  for (const line of stdout.split('\n')) {
    const [path, status] = line.split('\t');
    for (const p of (path ?? '').split(',')) if (p) paths.add(p);
    for (const s of (status ?? '').split(',')) if (s) statuses.add(s);
  }
  const recorded = both(calls)[0];
  t.same([...paths].filter((p) => p.includes(m)).sort(), recorded.map((c) => c.path).sort(), 'tshark saw the same paths on the wire');
  t.same([...statuses].sort(), [...new Set(recorded.map((c) => String(c.status_code)))].sort(), 'and the same statuses');
});

void t.test('h2c by upgrade: curl --http2 asks HTTP/1.1 to switch; both sidecars record the 101 and the HTTP/2 stream', async (t) => {
  const m = marker();
  const { stdout } = await lab.clientExec('curl', ['-sS', '--http2', `http://${lab.server.ip}:${PORTS.h2cUpgrade}/up?m=${m}`]);
  t.equal(stdout, `upgraded /up?m=${m}`, 'curl got the answer over HTTP/2');
  const calls = await lab.waitForCalls('upgrade records', (c) => c.path === `/up?m=${m}`, 4);
  for (const mine of both(calls)) {
    const label = mine[0]?.observer;
    t.match(mine.find((c) => c.protocol === 'http'), { status_code: 101, request: { headers: { upgrade: 'h2c' } } }, `${label}: the HTTP/1.1 upgrade`);
    const stream = mine.find((c) => c.protocol === 'http2');
    t.match(stream, { method: 'GET', status_code: 200 }, `${label}: stream 1 as HTTP/2`);
    t.equal(text(stream?.response), `upgraded /up?m=${m}`, `${label}: its body`);
    t.ok(stream !== undefined && mine.every((c) => c.connection_id === stream.connection_id), `${label}: one connection`);
  }
});

void t.test('gRPC: unary, error, streaming, gzip and 1 MiB calls recorded by both sidecars with decoded messages', async (t) => {
  const m = marker();
  const result = await lab.runClient<Record<string, unknown>>('grpc', lab.server.ip, String(PORTS.grpc), m);
  t.match(result, { unary: { ok: true, res: { reservation_id: `r-tea-${m}-3` } }, error: { ok: false, code: 5 }, gzip: { ok: true }, big: { ok: true, filler: 1024 * 1024 }, watch: [10, 9, 8], upload: { chunks: 3 }, chat: [`re: hi-${m}`, 're: again'] });
  const calls = await lab.waitForCalls('grpc records', (c) => c.protocol === 'grpc', 14);
  for (const mine of both(calls)) {
    const label = mine[0]?.observer;
    const reserve = mine.filter((c) => c.path === '/shop.Inventory/Reserve');
    const ok = reserve.find((c) => text(c.request).includes(`tea-${m}`));
    t.match(ok, { grpc_status: 0, status_code: 200 }, `${label}: unary call`);
    t.ok(text(ok?.response).includes(`r-tea-${m}-3`), `${label}: the reply message decoded`);
    const reply = (JSON.parse(text(ok?.response)) as { messages: Array<{ message: Record<string, unknown> }> }).messages[0].message;
    if (label === 'inbound') t.match(reply, { reservation_id: `r-tea-${m}-3`, remaining: 97, availability: 'LOW' }, 'the server sidecar has the schema: field and enum names');
    else t.match(reply, { 1: `r-tea-${m}-3`, 2: 97, 4: 2 }, 'the client sidecar has none: field numbers');
    const failed = reserve.find((c) => c.grpc_status === 5);
    t.match(failed, { grpc_message: 'sku missing not found' }, `${label}: the error status and message`);
    t.ok(reserve.some((c) => text(c.request).includes(`gz-${m}`) && text(c.request).includes('"compressed":true')), `${label}: the gzip message decoded`);
    t.ok(reserve.some((c) => c.request?.body_size !== undefined && c.request.body_size > 1024 * 1024), `${label}: the 1 MiB call with its true size`);
    const watch = mine.find((c) => c.path === '/shop.Inventory/Watch');
    const streamed = (JSON.parse(text(watch?.response)) as { messages: Array<{ at_us?: number }> }).messages;
    t.equal(streamed.length, 3, `${label}: three streamed messages`);
    t.ok(streamed.every((x) => typeof x.at_us === 'number' && x.at_us >= 0), `${label}: each with its arrival time`);
    t.ok(text(mine.find((c) => c.path === '/shop.Inventory/Upload')?.request).includes(`c-${m}`), `${label}: client streaming`);
    t.ok(text(mine.find((c) => c.path === '/shop.Inventory/Chat')?.response).includes(`re: hi-${m}`), `${label}: bidi streaming`);
  }
  const filtered = await lab.calls(1000, 'grpc && grpc_status == 5');
  t.ok(filtered.length >= 2 && filtered.every((c) => c.grpc_status === 5), 'the CEL filter finds the failed calls');
});

void t.test('WebSocket: each message recorded by both sidecars, tied to the upgrade', async (t) => {
  const m = marker();
  const result = await lab.runClient<{ echoes: string[] }>('ws', `ws://${lab.server.ip}:${PORTS.ws}/feed?m=${m}`, m);
  t.same(result.echoes, [`hello ${m}`, 'binary:010203fe']);
  const calls = await lab.waitForCalls('ws records', (c) => c.protocol === 'ws' && c.path === `/feed?m=${m}`, 12);
  for (const mine of both(calls)) {
    const label = mine[0]?.observer;
    t.ok(mine.some((c) => c.method === 'TEXT' && text(c.request) === `hello ${m}`), `${label}: the client's text`);
    t.ok(mine.some((c) => c.method === 'TEXT' && text(c.response) === `hello ${m}`), `${label}: the server's echo`);
    t.ok(mine.some((c) => c.method === 'BINARY' && c.request !== undefined && 'base64' in c.request.body && c.request.body.base64 === 'AQID/g=='), `${label}: binary as base64`);
    t.ok(mine.some((c) => c.method === 'CLOSE' && text(c.request) === `1000 normal closure: bye ${m}`), `${label}: the close frame`);
    const upgrade = (await lab.calls(1000, `http && path == "/feed?m=${m}"`)).find((c) => c.observer === label);
    t.equal(upgrade?.status_code, 101, `${label}: the upgrade call`);
    t.ok(mine.every((c) => c.connection_id === upgrade?.connection_id), `${label}: messages share the upgrade's connection id`);
  }
});

void t.test('PostgreSQL: psql and node-postgres through both sidecars: statements, bound parameters, rows, SQLSTATE, password masked', async (t) => {
  const m = marker();
  const { stdout } = await lab.clientExec('env', [`PGPASSWORD=${PG_PASSWORD}`, 'PGSSLMODE=disable', 'psql', '-h', lab.server.ip, '-p', String(PORTS.postgres), '-U', 'postgres', '-X', '-A', '-t', '-c', `SELECT 'hello-${m}' AS greeting`]);
  t.equal(stdout.trim(), `hello-${m}`);
  const result = await lab.runClient<{ rows: Array<{ item: string; qty: number }>; failed: string }>('pg', lab.server.ip, String(PORTS.postgres), PG_PASSWORD, m);
  t.same(result, { rows: [{ item: `tea-${m}`, qty: 3 }, { item: 'cup', qty: 1 }], failed: '42P01' });

  const calls = await lab.waitForCalls('postgres records', (c) => c.protocol === 'postgres' && JSON.stringify(c).includes(m), 10);
  for (const mine of both(calls)) {
    const label = mine[0]?.observer;
    const greeting = mine.find((c) => text(c.request).includes(`hello-${m}`));
    t.match(greeting, { method: 'SELECT', path: 'postgres' }, `${label}: psql's query`);
    t.ok(text(greeting?.response).includes(`hello-${m}`), `${label}: its row`);
    const inserts = mine.filter((c) => c.method === 'INSERT');
    t.ok(inserts.some((c) => (JSON.parse(text(c.request)) as { parameters?: unknown[] }).parameters?.[0] === `tea-${m}`), `${label}: the bound parameters of the insert`);
    const select = mine.find((c) => c.method === 'SELECT' && text(c.request).includes(`orders_${m}`));
    t.match(select, { response: { headers: { rows: '2' } } }, `${label}: the select's row count`);
    t.ok(text(select?.response).includes(`tea-${m}`), `${label}: the rows`);
    t.match(mine.find((c) => c.error === 'server_error'), { error_detail: /42P01/, response: { headers: { sqlstate: '42P01' } } }, `${label}: the failing query's SQLSTATE`);
  }
  const everything = JSON.stringify(await lab.calls(1000));
  t.notOk(everything.includes(PG_PASSWORD), 'the password is nowhere in what the collector holds');
  t.ok((await lab.calls(1000, 'postgres && method == "STARTUP"')).length >= 2, 'the logins are recorded by both sidecars');
});

void t.test('MySQL: the mariadb client through both sidecars: login masked, queries, rows, error codes', async (t) => {
  const m = marker();
  const sql = `CREATE TABLE items_${m} (id INT PRIMARY KEY, name VARCHAR(40)); INSERT INTO items_${m} VALUES (1, 'tea-${m}'), (2, 'cup'); SELECT id, name FROM items_${m} ORDER BY id; SELECT * FROM missing_${m}`;
  const run = await lab.clientExec('sh', ['-c', `mariadb --no-defaults -h ${lab.server.ip} -P ${PORTS.mysql} -u app -p'${MYSQL_PASSWORD}' --skip-ssl --batch shop -e "${sql}" 2>&1; true`]);
  t.match(run.stdout, new RegExp(`tea-${m}`), 'the client got its rows');
  t.match(run.stdout, /ERROR 1146/, 'and the error');
  const calls = await lab.waitForCalls('mysql records', (c) => c.protocol === 'mysql' && JSON.stringify(c).includes(m), 8);
  for (const mine of both(calls)) {
    const label = mine[0]?.observer;
    const select = mine.find((c) => c.method === 'SELECT' && text(c.request).includes(`items_${m}`));
    t.match(select, { path: 'shop', response: { headers: { rows: '2' } } }, `${label}: the select with its row count`);
    t.ok(text(select?.response).includes(`tea-${m}`), `${label}: its rows`);
    t.match(mine.find((c) => c.error === 'server_error'), { error_detail: /1146/ }, `${label}: the error code`);
  }
  const logins = (await lab.calls(1000, 'mysql && method == "CONNECT"')).filter((c) => c.request?.headers.user === 'app');
  t.ok(logins.length >= 2, 'the login recorded by both sidecars');
  t.ok(logins.every((c) => c.redacted.includes('request.body')), 'its auth data masked');
  t.notOk(JSON.stringify(await lab.calls(1000)).includes(MYSQL_PASSWORD), 'the password is nowhere in what the collector holds');
});

void t.test('nothing left behind', async (t) => {
  await lab.destroy();
  t.same(await eventually('clean', async () => ((await lab.leftovers()).length === 0 ? [] : undefined), 10_000), []);
});
