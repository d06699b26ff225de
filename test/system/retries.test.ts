/**
 * Real clients that retry and give up, through a sidecar pair, as the collector marks them: curl
 * retrying a request that fails twice (attempts 1, 2, 3 naming the first), Node fetch clients
 * that do and do not wait as a 429's Retry-After asks, and curl giving up on a slow answer.
 */
import { randomBytes } from 'node:crypto';
import t from 'tap';
import type { CallRecordJson } from '../../record/record-json.ts';
import { MeshLab, NODE } from './harness.ts';

const lab = await MeshLab.start();
t.teardown(() => lab.destroy());

const marker = () => randomBytes(4).toString('hex');
const byStart = (a: CallRecordJson, b: CallRecordJson) => (BigInt(a.start) < BigInt(b.start) ? -1 : 1);

/** One 429 answered, then one retry: after the Retry-After delay (`wait`) or at once. */
const RETRY_ONCE = `
const [url, mode] = process.argv.slice(1);
let res = await fetch(url);
await res.text();
if (res.status === 429) {
  if (mode === 'wait') await new Promise((r) => setTimeout(r, Number(res.headers.get('retry-after')) * 1000));
  res = await fetch(url);
  await res.text();
}
console.log(res.status);
`;

void t.test('curl --retry against an endpoint that fails twice: attempts 1, 2, 3 naming the first, on both sides', async (t) => {
  const path = `/flaky/${marker()}`;
  const { stdout } = await lab.clientExec('curl', ['-sS', '-m', '20', '--retry', '3', '--retry-all-errors', '--retry-delay', '1', lab.appUrl(path)]);
  t.match(stdout, /ok after 3/, 'the third attempt succeeded');
  const records = await lab.waitForCalls('three attempts seen by both sidecars', (c) => c.path === path, 6);
  for (const observer of ['outbound', 'inbound'] as const) {
    const attempts = records.filter((r) => r.observer === observer).sort(byStart);
    t.same(attempts.map((r) => r.status_code), [503, 503, 200], `${observer}: two failures then a success`);
    t.same(attempts.map((r) => r.attempt), [1, 2, 3], `${observer}: numbered in order`);
    t.same(attempts.map((r) => r.first_attempt_id), [undefined, attempts[0].id, attempts[0].id], `${observer}: retries name the first`);
  }
  const retries = await lab.calls(100, `retry && path == "${path}"`);
  t.equal(retries.length, 4, 'the filter `retry` finds the four retry records');
});

void t.test('a 429 with Retry-After: 1 — a client that waits honours it, one that retries at once does not', async (t) => {
  const waits = `/ratelimited/${marker()}?after=1`;
  const hurries = `/ratelimited/${marker()}?after=1`;
  const [patient, impatient] = await Promise.all([
    lab.clientExec(NODE, ['--input-type=module', '-e', RETRY_ONCE, lab.appUrl(waits), 'wait']),
    lab.clientExec(NODE, ['--input-type=module', '-e', RETRY_ONCE, lab.appUrl(hurries), 'hurry']),
  ]);
  t.equal(patient.stdout.trim(), '200');
  t.equal(impatient.stdout.trim(), '200');
  for (const [path, honoured] of [
    [waits, true],
    [hurries, false],
  ] as const) {
    const records = await lab.waitForCalls(`both attempts of ${path}`, (c) => c.path === path, 4);
    for (const observer of ['outbound', 'inbound'] as const) {
      const [first, retry] = records.filter((r) => r.observer === observer).sort(byStart);
      t.match(first, { status_code: 429, attempt: 1 }, `${observer}: the 429`);
      t.equal(first.response?.headers['retry-after'], '1');
      t.match(retry, { status_code: 200, attempt: 2, first_attempt_id: first.id, retry_after_honoured: honoured }, `${observer}: the retry ${honoured ? 'waited' : 'did not wait'}`);
    }
  }
  const ignored = await lab.calls(100, 'retry_after_honoured == false');
  t.ok(ignored.length >= 2 && ignored.every((r) => r.path === hurries), 'the filter finds the impatient client');
  const offenders = await fetch(`http://${lab.net.gateway}:${lab.collectorPorts!.http}/api/offenders?since=5m`, { headers: { authorization: `Bearer ${lab.apiToken}` } });
  t.equal(offenders.status, 200);
  const body = (await offenders.json()) as { clients: { name: string; rate_limited: number; retry_after_ignored: number }[] };
  t.ok(body.clients.some((c) => c.rate_limited >= 2 && c.retry_after_ignored >= 1), 'the worst-offenders ranking counts the 429s and the ignored Retry-After');
});

void t.test('curl -m 1 against an answer that takes 8 s: the client sidecar records a client_timeout', async (t) => {
  const path = `/slow?ms=8000&k=${marker()}`;
  const started = Date.now();
  await t.rejects(lab.clientExec('curl', ['-sS', '-m', '1', lab.appUrl(path)]), 'curl gave up');
  t.ok(Date.now() - started < 7000, 'before the answer came');
  const [outbound] = await lab.waitForCalls('the client sidecar record', (c) => c.path === path && c.observer === 'outbound', 1, 20_000);
  t.equal(outbound.error, 'client_timeout', `the client gave up (got ${JSON.stringify({ error: outbound.error, status: outbound.status_code, detail: outbound.error_detail })})`);
  const timeouts = await lab.calls(100, `client_timeout && path == "${path}"`);
  t.ok(timeouts.length >= 1, 'the filter client_timeout finds it');
});

void t.test('nothing is left behind', async (t) => {
  await lab.destroy();
  t.same(await lab.leftovers(), []);
});
