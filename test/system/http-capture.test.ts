/**
 * Real clients in one pod, a real app in another, the real init rules, sidecars and collector:
 * every call is seen by both sidecars, paired right, masked, and forwarded untouched.
 */
import { randomBytes } from 'node:crypto';
import t from 'tap';
import type { CallRecordJson } from '../../record/record-json.ts';
import { APP_PORTS, MeshLab } from './harness.ts';

// A long detection window: a server-first protocol held back by detection would wait it out.
// The sidecars give back their startup pages of the node binary a second after they start, so
// every test below runs through trimmed sidecars.
const DETECT_TIMEOUT_MS = 3000;
const lab = await MeshLab.start({
  excludeInboundPorts: [APP_PORTS.httpExcluded],
  sidecarEnv: { MESHTAP_DETECT_TIMEOUT_MS: String(DETECT_TIMEOUT_MS), MESHTAP_TRIM_AFTER_SECONDS: '1' },
});
t.teardown(() => lab.destroy());

const marker = () => randomBytes(4).toString('hex');
const bodyText = (m: { body: { text: string } | { base64: string } } | undefined) =>
  m === undefined ? undefined : 'text' in m.body ? m.body.text : Buffer.from(m.body.base64, 'base64').toString();
const byObserver = (calls: CallRecordJson[]) => ({
  outbound: calls.filter((c) => c.observer === 'outbound'),
  inbound: calls.filter((c) => c.observer === 'inbound'),
});

/** The pair of records for one call: the client sidecar's outbound one and the server sidecar's inbound one. */
function checkPair(t: Tap, calls: CallRecordJson[], expected: { method: string; path: string; status: number; requestBody: string; responseBody: string }) {
  const { outbound, inbound } = byObserver(calls);
  t.equal(outbound.length, 1, 'one outbound record (client sidecar)');
  t.equal(inbound.length, 1, 'one inbound record (server sidecar)');
  for (const record of [outbound[0], inbound[0]]) {
    t.match(record, { protocol: 'http', method: expected.method, path: expected.path, status_code: expected.status }, `${record.observer} record`);
    t.equal(bodyText(record.request), expected.requestBody, `${record.observer} request body`);
    t.equal(bodyText(record.response), expected.responseBody, `${record.observer} response body`);
    t.equal(record.tls.mesh, false);
    t.match(record.id, /^[0-9a-f]{24}-[oi]0$/);
  }
  t.match(outbound[0], {
    src: { ip: lab.client.ip, pod: 'client', namespace: 'systest', node: 'lab-node-1' },
    dst: { ip: lab.server.ip, port: APP_PORTS.http },
  });
  t.equal(outbound[0].dst.pod, undefined, 'the remote end is left to the collector to name');
  t.match(inbound[0], {
    src: { ip: lab.client.ip },
    dst: { ip: lab.server.ip, port: APP_PORTS.http, pod: 'server', namespace: 'systest', node: 'lab-node-1' },
  });
  t.not(outbound[0].connection_id, inbound[0].connection_id, 'each sidecar names its own connection');
}

/** The assertions checkPair uses, as any tap test has them. */
interface Tap {
  equal(...args: any[]): unknown;
  not(...args: any[]): unknown;
  match(...args: any[]): unknown;
}

void t.test('curl from the client pod: both sidecars record the call, secrets masked', async (t) => {
  const m = marker();
  const path = `/echo?curl=${m}`;
  const body = `{"user":"ann","password":"hunter2","m":"${m}"}`;
  const { stdout } = await lab.clientExec('curl', [
    '-sS',
    '-m',
    '10',
    '-H',
    'content-type: application/json',
    '-H',
    'authorization: Bearer abc.def.ghi',
    '--data-binary',
    body,
    lab.appUrl(path),
  ]);
  t.equal(stdout, body, 'the app echoed the body unchanged through both sidecars');
  const calls = await lab.waitForCalls('curl records', (c) => c.path === path);
  const masked = body.replace('hunter2', '****');
  checkPair(t, calls, { method: 'POST', path, status: 200, requestBody: masked, responseBody: masked });
  for (const record of calls) {
    t.not(record.request?.headers.authorization, 'Bearer abc.def.ghi', 'authorization header masked');
    t.ok(record.redacted.includes('request.headers.authorization'), 'masking is listed');
    t.equal(record.request?.headers['user-agent']?.startsWith('curl/'), true);
  }
});

void t.test('Node fetch from the client pod', async (t) => {
  const m = marker();
  const path = `/echo?fetch=${m}`;
  const result = await lab.runClient<{ status: number; body: string }>('fetch', lab.appUrl(path), 'POST', `{"m":"${m}"}`);
  t.same(result, { status: 200, body: `{"m":"${m}"}` });
  const calls = await lab.waitForCalls('fetch records', (c) => c.path === path);
  checkPair(t, calls, { method: 'POST', path, status: 200, requestBody: `{"m":"${m}"}`, responseBody: `{"m":"${m}"}` });
});

void t.test('a port excluded from inbound capture is not seen by the server sidecar', async (t) => {
  const m = marker();
  const excludedPath = `/echo?excluded=${m}`;
  const result = await lab.runClient<{ status: number; body: string }>('fetch', lab.appUrl(excludedPath, APP_PORTS.httpExcluded), 'POST', 'x');
  t.same(result, { status: 200, body: 'x' }, 'the excluded port still works');
  // A captured call made afterwards: once both of its records are in, the excluded call's would be too.
  const after = `/echo?after=${m}`;
  await lab.runClient('fetch', lab.appUrl(after), 'POST', 'y');
  await lab.waitForCalls('the later call', (c) => c.path === after);
  const excluded = (await lab.calls()).filter((c) => c.path === excludedPath);
  t.same(
    excluded.map((c) => [c.observer, c.dst.port]),
    [['outbound', APP_PORTS.httpExcluded]],
    'only the client sidecar (outbound) saw it; the server sidecar did not',
  );
});

void t.test('three pipelined requests are paired with their own responses', async (t) => {
  const result = await lab.runClient<{ responses: string }>('pipeline', lab.server.ip, String(APP_PORTS.http));
  t.match(result.responses, /body0[\s\S]*slow ok[\s\S]*body2$/, 'responses arrived in order');
  const calls = await lab.waitForCalls(
    'pipelined records',
    (c) => c.src.ip === lab.client.ip && (c.path === '/echo?n=1' || c.path === '/slow?ms=150' || c.path === '/echo?n=3'),
    6,
  );
  for (const observer of ['outbound', 'inbound'] as const) {
    const mine = calls.filter((c) => c.observer === observer).sort((a, b) => a.ordinal - b.ordinal);
    t.equal(new Set(mine.map((c) => c.connection_id)).size, 1, `${observer}: one connection`);
    t.same(
      mine.map((c) => [c.ordinal, c.path, bodyText(c.request), bodyText(c.response)]),
      [
        [0, '/echo?n=1', 'body0', 'body0'],
        [1, '/slow?ms=150', 'body1', 'slow ok'],
        [2, '/echo?n=3', 'body2', 'body2'],
      ],
      `${observer}: each request with its own response`,
    );
    t.ok(BigInt(mine[1].end) - BigInt(mine[1].start) >= 140_000_000n, `${observer}: the slow call took its time`);
  }
});

void t.test('half-close: the server answers after reading the client FIN', async (t) => {
  const result = await lab.runClient<{ sent: string; answer: string }>('half-close', lab.server.ip, String(APP_PORTS.halfClose), String(300 * 1024 + 3));
  t.equal(result.answer, result.sent, 'every byte arrived and the answer came back after EOF');
  const calls = await lab.waitForCalls('half-close records', (c) => c.dst.port === APP_PORTS.halfClose && c.src.ip === lab.client.ip);
  for (const record of calls) {
    t.match(record, { protocol: 'tcp', bytes_out: 300 * 1024 + 3, bytes_in: result.answer.length }, `${record.observer} opaque record`);
    t.notOk(record.error, `${record.observer}: closed normally`);
  }
});

void t.test('a server-first protocol is not held back by detection', async (t) => {
  const samples: number[] = [];
  for (let i = 0; i < 3; i++) {
    const result = await lab.runClient<{ banner_ms: number; text: string }>('banner', lab.server.ip, String(APP_PORTS.banner));
    t.equal(result.text, '220 meshtap-test ready\r\nHELO test\r\n221 bye\r\n');
    samples.push(result.banner_ms);
  }
  const best = Math.min(...samples);
  t.ok(best < DETECT_TIMEOUT_MS / 3, `banner ${best.toFixed(1)} ms after connect through two sidecars (detect timeout ${DETECT_TIMEOUT_MS} ms)`);
  const calls = await lab.waitForCalls('banner records', (c) => c.dst.port === APP_PORTS.banner, 6);
  t.same(new Set(calls.map((c) => c.protocol)), new Set(['tcp']));
});

void t.test('the sidecars gave back the node binary pages only starting used, and kept forwarding', async (t) => {
  for (const name of ['client', 'server'] as const) {
    const line = await lab.sidecars[name].proc.waitFor(/gave back the node binary pages only starting used/);
    const fields = JSON.parse(line) as { dropped_mib: number; ranges: number; refused?: number };
    t.ok(fields.dropped_mib > 5 && fields.ranges > 0 && fields.refused === undefined, `${name}: ${line}`);
  }
  const { stdout } = await lab.clientExec('curl', ['-sS', '--data-binary', 'after-trim', lab.appUrl('/echo?trimmed=1')]);
  t.equal(stdout, 'after-trim', 'a call after the trim is answered');
});

void t.test('nothing is left behind', async (t) => {
  t.same(lab.sidecars.client.proc.exitCode, undefined, 'the client sidecar ran throughout');
  t.same(lab.sidecars.server.proc.exitCode, undefined, 'the server sidecar ran throughout');
  t.equal(await lab.metric(lab.client, 'meshtap_sidecar_parser_errors_total', { kind: 'exception' }), 0, 'no parser exceptions');
  await lab.destroy();
  t.same(await lab.leftovers(), []);
});
