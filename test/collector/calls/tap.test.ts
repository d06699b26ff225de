/** `meshtap tap` per call: one line per meshed call, `--observations`, `-o json`, `-o har`; as a real process. */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { spawnTap } from '../../helpers/tap-process.ts';
import { resolveCollectorOptions } from '../../../collector/config.ts';
import { startCollector, type RunningCollector } from '../../../collector/collector.ts';
import { resolveTapMode } from '../../../collector/tap/cli.ts';
import { formatJoinedCallLine } from '../../../collector/tap/format.ts';
import { joinRecords } from '../../../collector/calls/join.ts';
import { createSinkLogger } from '../../../lib/log.ts';
import { recordToJson } from '../../../record/record-json.ts';
import type { CallRecord } from '../../../record/record.ts';
import { callRecord, waitFor, type CallSpec } from '../helpers.ts';
import { checkSchema, type Schema } from './schema-check.ts';

const TOKEN = 'tap-token-bbbbbbbbbbbbbbbbbbbbbbbb';
const HAR_SCHEMA = JSON.parse(readFileSync(new URL('har-schema.json', import.meta.url), 'utf8')) as Schema;


/** A collector behind token auth: tap's stream and its partner lookups both carry the token. */
async function collector(t: Test): Promise<RunningCollector> {
  const dir = mkdtempSync(join(tmpdir(), 'meshtap-tap-calls-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'tokens'), `${TOKEN}\n`);
  const c = await startCollector(resolveCollectorOptions({ host: '127.0.0.1', grpcPort: 0, httpPort: 0, auth: 'token', authTokenFile: join(dir, 'tokens') }), { log: createSinkLogger(() => {}) });
  t.teardown(() => c.close({ force: true }));
  return c;
}

function meshed(conn: string, ordinal: number, at: number, spec: Partial<CallSpec> = {}): [CallRecord, CallRecord] {
  const common = { connectionId: conn, ordinal, mesh: true, method: 'POST', path: '/pay', status: 201, ...spec };
  return [
    callRecord({ ...common, id: `${conn}-o${ordinal}`, observer: 'outbound', at, elapsedMs: 12.34, src: { workload: 'frontend', namespace: 'shop' }, dst: { service: 'payment-svc', namespace: 'shop' } }),
    callRecord({ ...common, id: `${conn}-i${ordinal}`, observer: 'inbound', at, elapsedMs: 9.5, src: { ip: '10.244.0.5' }, dst: { workload: 'payment', namespace: 'shop' } }),
  ];
}

const subscribed = (c: RunningCollector) => waitFor('the tap to subscribe', () => c.hub.clients().length === 1, 30_000);

void t.test('text: one line per call; both latencies when both sides are known; partners found late or by id', async (t) => {
  const c = await collector(t);
  const tap = spawnTap(t, ['--collector', `http://127.0.0.1:${c.httpPort}`, '--token', TOKEN, '--join-wait', '1500', '--filter', 'observer == "outbound" || path == "/pay"']);
  await subscribed(c);
  const [o1, i1] = meshed('m1', 0, 1);
  // The server's observation first, the client's in a later batch.
  await c.store.add([i1]);
  await new Promise((r) => setTimeout(r, 100));
  await c.store.add([o1, callRecord({ id: 'plain', at: 2, method: 'GET', path: '/ext', status: 200, src: { workload: 'frontend', namespace: 'shop' }, dst: { ip: '93.184.216.34', port: 443 } })]);
  await waitFor('two lines', () => tap.lines().length >= 2);
  t.same(tap.lines(), ['16:00:00.001  shop/frontend → shop/payment  POST /pay  201  12.3ms (server 9.50ms)', '16:00:00.002  shop/frontend → 93.184.216.34:443  GET /ext  200  1.00ms'], 'the meshed call once, callee named by its server; the unmeshed call as its record');

  // The filter matches only the client side of this one: its partner is asked for by id after the wait.
  const [o2, i2] = meshed('m2', 0, 3, { path: '/refund', status: 503 });
  await c.store.add([i2, o2]);
  // A meshed call whose other side never comes.
  const [o3] = meshed('m3', 0, 4, { path: '/lost', status: undefined, error: 'reset' });
  await c.store.add([o3]);
  await waitFor('four lines', () => tap.lines().length >= 4, 10_000);
  t.same(tap.lines().slice(2).sort(), [
    '16:00:00.003  shop/frontend → shop/payment  POST /refund  503  12.3ms (server 9.50ms)',
    '16:00:00.004  shop/frontend → shop/payment-svc  POST /lost  error=reset  12.3ms  (client side only)',
  ]);
  tap.child.kill('SIGINT');
  t.equal((await tap.exit)[0], 0);
  t.equal(tap.stderr(), '');
});

void t.test('a reader that goes away (`meshtap tap | head`): tap ends quietly, exit 0, even with calls still waiting for a partner', async (t) => {
  const c = await collector(t);
  const tap = spawnTap(t, ['--collector', `http://127.0.0.1:${c.httpPort}`, '--token', TOKEN, '--join-wait', '300']);
  await subscribed(c);
  await c.store.add([callRecord({ id: 'first', at: 1, method: 'GET', path: '/one', status: 200 })]);
  await waitFor('the first line', () => tap.lines().length >= 1);
  // The reader closes its end, as `head -1` does after its line.
  tap.child.stdout!.destroy();
  // Meshed calls whose other side never comes wait for it, then are written to nobody; the call
  // after them is written at once and meets the closed pipe first.
  const waiting = [0, 1, 2].map((n) => meshed(`w${n}`, 0, 2 + n)[0]);
  await c.store.add([...waiting, callRecord({ id: 'second', at: 9, method: 'GET', path: '/two', status: 200 })]);
  const [code, signal] = await tap.exit;
  t.equal(signal, null);
  t.equal(code, 0, 'exit 0');
  t.equal(tap.stderr(), '', 'no stack trace, nothing on stderr');
});

void t.test('--observations: one line per record, each marked with the sidecar that observed it', async (t) => {
  const c = await collector(t);
  const tap = spawnTap(t, ['--collector', `http://127.0.0.1:${c.httpPort}`, '--token', TOKEN, '--observations']);
  await subscribed(c);
  await c.store.add(meshed('m1', 0, 1));
  await waitFor('two lines', () => tap.lines().length >= 2);
  t.same(tap.lines(), ['16:00:00.001  client  shop/frontend → shop/payment-svc  POST /pay  201  12.3ms', '16:00:00.001  server  10.244.0.5:40000 → shop/payment  POST /pay  201  9.50ms']);
  tap.child.kill('SIGINT');
  t.equal((await tap.exit)[0], 0);
});

void t.test('-o json: one call per line (records with --observations); --limit ends it', async (t) => {
  const c = await collector(t);
  const calls = spawnTap(t, ['--collector', `http://127.0.0.1:${c.httpPort}`, '--token', TOKEN, '-o', 'json', '--limit', '2']);
  const records = spawnTap(t, ['--collector', `http://127.0.0.1:${c.httpPort}`, '--token', TOKEN, '-o', 'json', '--observations', '--limit', '3']);
  await waitFor('both taps to subscribe', () => c.hub.clients().length === 2, 30_000);
  const pair = meshed('m1', 0, 1);
  const tcp = callRecord({ id: 'tcp-1', protocol: 'tcp', at: 2 });
  await c.store.add([...pair, tcp, callRecord({ id: 'after-limit', at: 3 })]);
  const [code] = await calls.exit;
  t.equal(code, 0, '--limit: exits 0 by itself');
  const lines = calls.lines().map((l) => JSON.parse(l) as unknown);
  t.same(lines, joinRecords([...pair, tcp].map(recordToJson)), 'the joined call, then the TCP call; nothing after the limit');
  t.equal((await records.exit)[0], 0);
  t.same(
    records.lines().map((l) => JSON.parse(l) as unknown),
    [...pair, tcp].map(recordToJson),
  );
});

void t.test('-o har: collects until --limit, or Ctrl-C, then prints one HAR document', async (t) => {
  const c = await collector(t);
  const limited = spawnTap(t, ['--collector', `http://127.0.0.1:${c.httpPort}`, '--token', TOKEN, '-o', 'har', '--limit', '2']);
  const untilCtrlC = spawnTap(t, ['--collector', `http://127.0.0.1:${c.httpPort}`, '--token', TOKEN, '-o', 'har', '--join-wait', '60000']);
  await waitFor('both taps to subscribe', () => c.hub.clients().length === 2, 30_000);
  await c.store.add([
    callRecord({ id: 'redis-1', protocol: 'redis', at: 0, method: 'GET' }),
    ...meshed('m1', 0, 1, { requestBody: '{"card":"****"}', responseBody: '{"ok":true}' }),
    callRecord({ id: 'g-1', protocol: 'grpc', at: 2, method: 'POST', path: '/shop.Pay/Charge', status: 200, grpcStatus: 0 }),
    callRecord({ id: 'late', at: 3, method: 'GET', path: '/late', status: 200 }),
  ]);
  // Held for its partner (60 s): Ctrl-C prints it as it stands.
  const [lonely] = meshed('m9', 0, 5, { path: '/waiting' });
  await c.store.add([lonely]);
  const [code] = await limited.exit;
  t.equal(code, 0);
  const har = JSON.parse(limited.stdout()) as any;
  t.same(checkSchema(HAR_SCHEMA, har), [], 'valid HAR 1.2');
  t.same(har.log.entries.map((e: any) => [e._meshtap.call_id, e.request.method, e.request.url]), [
    ['m1:0', 'POST', 'http://10.244.0.9:8080/pay'],
    ['conn-g-1:0', 'POST', 'http://10.244.0.9:8080/shop.Pay/Charge'],
  ], 'HTTP-family calls only; the limit counts entries');
  t.same(har.log.entries[0].request.postData, { mimeType: 'application/json', text: '{"card":"****"}' });
  t.equal(har.log.entries[1].request.httpVersion, 'HTTP/2');

  await waitFor('the held call written to the remaining tap', () => {
    const clients = c.hub.clients();
    return clients.length === 1 && clients[0].stats().queued === 0;
  });
  await new Promise((r) => setTimeout(r, 500));
  untilCtrlC.child.kill('SIGINT');
  t.equal((await untilCtrlC.exit)[0], 0);
  const all = JSON.parse(untilCtrlC.stdout()) as any;
  t.same(checkSchema(HAR_SCHEMA, all), []);
  t.same(all.log.entries.map((e: any) => e._meshtap.call_id), ['m1:0', 'conn-g-1:0', 'conn-late:0', 'm9:0'], 'oldest start first');
  t.equal(all.log.comment, 'left out 1 redis call: HAR holds HTTP, HTTP/2 and gRPC only', 'the document says what stderr says');
  t.match(untilCtrlC.stderr(), /left out, as HAR holds only HTTP, HTTP\/2 and gRPC: 1 redis/);
});

void t.test('usage errors exit 2', async (t) => {
  for (const args of [['-o', 'xml'], ['--json', '-o', 'har'], ['--limit', '0'], ['--join-wait', 'soon']]) {
    const tap = spawnTap(t, ['--collector', 'http://127.0.0.1:9', ...args]);
    t.equal((await tap.exit)[0], 2, args.join(' '));
    t.match(tap.stderr(), /--output must be|--json is -o json|--limit must be|--join-wait must be/);
  }
  t.same(resolveTapMode({}), { output: 'text', observations: false, limit: undefined, joinWaitMs: 2000 });
  t.same(resolveTapMode({ json: true }), { output: 'json', observations: true, limit: undefined, joinWaitMs: 2000 }, '--json is -o json --observations');
  t.same(resolveTapMode({ output: 'har', limit: '5', 'join-wait': '0' }), { output: 'har', observations: false, limit: 5, joinWaitMs: 0 });
});

void t.test('formatJoinedCallLine', async (t) => {
  const [o, i] = meshed('m1', 0, 1).map(recordToJson);
  const [joined] = joinRecords([o, i]);
  t.equal(formatJoinedCallLine(joined, { color: false }), '16:00:00.001  shop/frontend → shop/payment  POST /pay  201  12.3ms (server 9.50ms)');
  t.equal(formatJoinedCallLine(joined, { color: true }), '\u001b[2m16:00:00.001\u001b[0m  shop/frontend → shop/payment  POST /pay  \u001b[32m201\u001b[0m  12.3ms \u001b[2m(server 9.50ms)\u001b[0m');
  const [server] = joinRecords([i]);
  t.equal(formatJoinedCallLine(server, { color: false }), '16:00:00.001  10.244.0.5:40000 → shop/payment  POST /pay  201  9.50ms  (server side only)');
  const unmeshed = recordToJson(callRecord({ id: 'u', method: 'GET', path: '/', status: 200 }));
  const [plain] = joinRecords([unmeshed]);
  t.equal(formatJoinedCallLine(plain, { color: false }), '16:00:00.000  10.244.0.5:40000 → 10.244.0.9:8080  GET /  200  1.00ms', 'an unmeshed peer: exactly its record\'s line');
});
