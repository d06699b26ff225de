/** `meshtap tap` as a real process against a running collector. */
import { once } from 'node:events';
import { createServer } from 'node:net';
import t, { type Test } from 'tap';
import { spawnTap as spawnTapProcess, type TapProcess } from '../helpers/tap-process.ts';
import { resolveCollectorOptions } from '../../collector/config.ts';
import { startCollector, type RunningCollector } from '../../collector/collector.ts';
import { recordToJson } from '../../record/record-json.ts';
import { callRecord, waitFor } from './helpers.ts';


/** Colours on (NO_COLOR empty) unless a test says otherwise: the format tests check them. */
const spawnTap = (t: Test, args: string[], env: NodeJS.ProcessEnv = {}): TapProcess => spawnTapProcess(t, args, { NO_COLOR: '', ...env });

async function collector(t: Test): Promise<RunningCollector> {
  const c = await startCollector(resolveCollectorOptions({ auth: 'none', host: '127.0.0.1', grpcPort: 0, httpPort: 0 }));
  t.teardown(() => c.close({ force: true }));
  return c;
}

void t.test('--json: calls stored after it started, one JSON record per line; SIGINT exits 0', async (t) => {
  const c = await collector(t);
  await c.store.add([callRecord({ id: 'before' })]);
  const tap = spawnTap(t, ['--collector', `http://127.0.0.1:${c.httpPort}`, '--json']);
  await waitFor('the tap to subscribe', () => c.hub.clients().length === 1, 30_000);
  const records = [callRecord({ id: 'one', dst: { workload: 'payment', namespace: 'shop' }, status: 201 }), callRecord({ id: 'two', protocol: 'tcp' })];
  await c.store.add(records);
  await waitFor('two lines', () => tap.stdout().split('\n').filter(Boolean).length >= 2);
  const lines = tap.stdout().split('\n').filter(Boolean).map((l) => JSON.parse(l) as unknown);
  t.same(lines, records.map(recordToJson), 'exactly the new calls, in the record JSON form');

  tap.child.kill('SIGINT');
  const [code, signal] = await tap.exit;
  t.equal(signal, null);
  t.equal(code, 0, 'Ctrl-C is a clean exit');
  t.equal(tap.stderr(), '', 'no stack, no message');
  await waitFor('unsubscribed', () => c.hub.clients().length === 0);
});

void t.test('text lines with --namespace and --filter (NO_COLOR: no escapes); collector stops → exit 1', async (t) => {
  const c = await collector(t);
  const tap = spawnTap(t, ['--collector', `http://127.0.0.1:${c.httpPort}/`, '-n', 'shop', '--filter', 'status_code >= 500 || error == "timeout"'], { NO_COLOR: '1' });
  await waitFor('the tap to subscribe', () => c.hub.clients().length === 1, 30_000);
  await c.store.add([
    callRecord({ id: 'a', at: 1.5, src: { workload: 'frontend', namespace: 'shop' }, dst: { workload: 'payment', namespace: 'shop' }, method: 'POST', path: '/pay', status: 503, elapsedMs: 12.34 }),
    callRecord({ id: 'b', src: { workload: 'frontend', namespace: 'shop' }, dst: { workload: 'payment', namespace: 'shop' }, method: 'GET', path: '/ok', status: 200 }),
    callRecord({ id: 'c', src: { workload: 'x', namespace: 'other' }, dst: { workload: 'y', namespace: 'other' }, method: 'GET', path: '/other', status: 500 }),
    callRecord({ id: 'd', src: { ip: '10.9.8.7', namespace: 'other' }, dst: { pod: 'db-0', namespace: 'shop' }, protocol: 'tcp', error: 'timeout', elapsedMs: 0.25 }),
  ]);
  await waitFor('two lines', () => tap.stdout().split('\n').filter(Boolean).length >= 2);
  t.same(tap.stdout().split('\n').filter(Boolean), [
    '16:00:00.001  shop/frontend → shop/payment  POST /pay  503  12.3ms',
    '16:00:00.000  10.9.8.7:40000 → shop/db-0  TCP  error=timeout  250µs',
  ]);
  t.notMatch(tap.stdout(), /\u001b\[/, 'no colour');

  await c.close();
  const [code] = await tap.exit;
  t.equal(code, 1, 'the collector going away is a failure');
  t.match(tap.stderr(), /meshtap tap: the collector at http:\/\/127\.0\.0\.1:\d+ closed the stream/);
  t.notMatch(tap.stderr(), /\n\s+at /, 'no stack');
});

void t.test('a rejected filter exits 2 with the position in the user\'s filter', async (t) => {
  const c = await collector(t);
  const tap = spawnTap(t, ['--collector', `http://127.0.0.1:${c.httpPort}`, '--namespace', 'shop', '--filter', 'http && dst.wrkload == "x"']);
  const [code] = await tap.exit;
  t.equal(code, 2);
  t.match(tap.stderr(), /the filter does not compile \(COL_ERR_FILTER_UNDECLARED\): .*wrkload.* at line 1, column 13\n {2}http && dst\.wrkload == "x"\n {14}\^/);
  t.equal(tap.stdout(), '');
});

void t.test('--namespace holds whatever the filter says: a filter is a whole expression or refused', async (t) => {
  const c = await collector(t);
  const url = `http://127.0.0.1:${c.httpPort}`;
  // Unbalanced: pasted after the namespace clause, ") || (" would have ended it (every namespace's calls printed).
  const escape = spawnTap(t, ['--collector', url, '-n', 'nosuchns', '-f', 'true) || (true', '--limit', '1']);
  t.equal((await escape.exit)[0], 2);
  t.match(escape.stderr(), /the filter does not compile \(COL_ERR_FILTER_SYNTAX\): .* at line 1, column 5\n {2}true\) \|\| \(true\n {6}\^/);
  t.equal(c.hub.clients().length, 0, 'it never subscribed');
  // An incomplete filter's position is in the user's text, not in the namespace clause around it.
  const incomplete = spawnTap(t, ['--collector', url, '-n', 'shop', '-f', 'status_code >=']);
  t.equal((await incomplete.exit)[0], 2);
  t.match(incomplete.stderr(), /COL_ERR_FILTER_SYNTAX\): syntax error: the filter ends after '>=': a value is missing at line 1, column 15\n {2}status_code >=\n {16}\^/);
  // A whole expression stays inside the namespace clause.
  const tap = spawnTap(t, ['--collector', url, '-n', 'shop', '-f', 'true || true', '--json']);
  await waitFor('the tap to subscribe', () => c.hub.clients().length === 1, 30_000);
  await c.store.add([callRecord({ id: 'other', src: { namespace: 'other' }, dst: { namespace: 'other' } }), callRecord({ id: 'mine', dst: { namespace: 'shop' } })]);
  await waitFor('one line', () => tap.stdout().split('\n').filter(Boolean).length >= 1);
  tap.child.kill('SIGINT');
  t.equal((await tap.exit)[0], 0);
  t.same(tap.stdout().split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { id: string }).id), ['mine']);
});

void t.test('-o har is written on SIGTERM too', async (t) => {
  const c = await collector(t);
  const tap = spawnTap(t, ['--collector', `http://127.0.0.1:${c.httpPort}`, '-o', 'har', '--observations']);
  await waitFor('the tap to subscribe', () => c.hub.clients().length === 1, 30_000);
  await c.store.add([
    callRecord({ id: 'h1', method: 'GET', path: '/har-me', status: 200 }),
    callRecord({ id: 'r1', protocol: 'redis', method: 'GET', path: 'session:1' }),
    callRecord({ id: 'r2', protocol: 'redis', method: 'SET', path: 'session:2' }),
  ]);
  // Once the collector has written the calls to tap's socket, tap reads them within a moment;
  // SIGTERM then must not lose them.
  await waitFor('the calls written to tap', () => {
    const sent = c.hub.clients()[0]?.stats();
    return sent !== undefined && sent.sent >= 3 && sent.queued === 0;
  });
  await new Promise((r) => setTimeout(r, 500));
  tap.child.kill('SIGTERM');
  const [code, signal] = await tap.exit;
  t.equal(signal, null, 'not killed by the signal');
  t.equal(code, 0);
  const har = JSON.parse(tap.stdout()) as { log: { entries: { request: { url: string } }[] } };
  t.equal(har.log.entries.length, 1);
  t.match(har.log.entries[0].request.url, /\/har-me$/);
  t.equal(tap.stderr(), 'meshtap tap: the HAR holds 1 call; left out, as HAR holds only HTTP, HTTP/2 and gRPC: 2 redis\n', 'what was left out is said, not silently dropped');
});

void t.test('an unreachable collector exits 1 with a message; bad usage exits 2', async (t) => {
  // A port that was free a moment ago: nothing listens there.
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  server.close();
  await once(server, 'close');
  const tap = spawnTap(t, [], { MESHTAP_COLLECTOR_URL: `http://127.0.0.1:${port}` });
  const [code] = await tap.exit;
  t.equal(code, 1);
  t.match(tap.stderr(), new RegExp(`cannot reach the collector at http://127\\.0\\.0\\.1:${port}: ECONNREFUSED`));

  const usage = spawnTap(t, ['--collector', 'ftp://x']);
  t.equal((await usage.exit)[0], 2);
  t.match(usage.stderr(), /--collector must be an http:\/\/ or https:\/\/ URL/);
  const badPort = spawnTap(t, ['--collector', 'http://127.0.0.1:99999']);
  t.equal((await badPort.exit)[0], 2);
  t.match(badPort.stderr(), /--collector has port 99999, out of range \(1-65535\)/);
  const notUrl = spawnTap(t, [], { MESHTAP_COLLECTOR_URL: 'localhost:8080/x y' });
  t.equal((await notUrl.exit)[0], 2);
  t.match(notUrl.stderr(), /MESHTAP_COLLECTOR_URL (is not a valid URL|must be an http)/);
  const emptyToken = spawnTap(t, ['--collector', 'http://127.0.0.1:1', '--token', '']);
  t.equal((await emptyToken.exit)[0], 2);
  t.match(emptyToken.stderr(), /--token must not be empty/);
  const help = spawnTap(t, ['--help']);
  t.equal((await help.exit)[0], 0);
  t.match(help.stdout(), /--namespace NS/);
});
