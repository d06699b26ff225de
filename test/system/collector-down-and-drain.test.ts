/**
 * Fail-open: with the collector gone, application traffic is untouched and the records that
 * cannot be held are counted as drops in the sidecar's /metrics. Then a graceful drain:
 * SIGTERM turns /ready to 503, lets the open call finish, and the sidecar exits 0.
 */
import t from 'tap';
import { MeshLab, eventually } from './harness.ts';

const lab = await MeshLab.start();
t.teardown(() => lab.destroy());

const dropped = (pod: typeof lab.client) => lab.metric(pod, 'meshtap_sidecar_records_dropped_total');

void t.test('with the collector stopped, traffic is unaffected and drops are counted', async (t) => {
  const before = await lab.runClient<{ status: number }>('fetch', lab.appUrl('/echo?before=1'), 'POST', 'b');
  t.equal(before.status, 200);
  await lab.waitForCalls('a record while the collector is up', (c) => c.path === '/echo?before=1');
  await lab.stopCollector();
  t.equal(lab.collector?.exitCode, 0, 'collector stopped');
  await eventually('the shipper to notice', async () => ((await lab.metric(lab.client, 'meshtap_sidecar_shipper_connected')) === 0 ? true : undefined));

  // Rounds of 100 calls with 100 KiB bodies both ways until the records held pass what the
  // shipper may hold (8 MiB), so some must be dropped while every call still succeeds. Records
  // are made on the capture worker after the calls were answered; a worker slower than the
  // burst skips bytes and cuts captures, counted as such.
  let calls = 0;
  for (let round = 0; round < 8; round++) {
    const result = await lab.runClient<{ ok: number; slowest_ms: number; first_ms: number }>('many', lab.appUrl('/echo?down=1'), '100', String(100 * 1024));
    calls += 100;
    t.equal(result.ok, 100, `round ${round + 1}: every call answered with its own bytes`);
    // Forwarding that waited for the shipper would take seconds a call; the first call connects.
    t.ok(result.slowest_ms < 2000, `slowest call ${result.slowest_ms.toFixed(1)} ms (the first, connecting: ${result.first_ms.toFixed(1)} ms)`);
    for (const pod of [lab.client, lab.server]) {
      await eventually('the capture worker to catch up', async () => ((await lab.metric(pod, 'meshtap_sidecar_capture_handoff_bytes')) === 0 ? true : undefined));
    }
    if ((await dropped(lab.client)) > 0 && (await dropped(lab.server)) > 0) break;
  }
  for (const pod of [lab.client, lab.server]) {
    const emitted = await lab.metric(pod, 'meshtap_sidecar_records_emitted_total');
    const cut = await lab.metric(pod, 'meshtap_sidecar_capture_overflow_total');
    t.ok(emitted >= calls || (emitted > 0 && cut > 0), `${pod.netns}: every exchange became a record, or the cuts are counted (${emitted} records, ${cut} cuts, ${calls} calls)`);
    const n = await dropped(pod);
    t.ok(n > 0, `${pod.netns}: ${n} records counted as dropped`);
  }
  t.ok((await lab.metric(lab.client, 'meshtap_sidecar_records_dropped_total', { reason: 'collector_unavailable' })) > 0, 'reason: collector unavailable');
  t.ok((await lab.metric(lab.client, 'meshtap_sidecar_connections_total', { direction: 'outbound', protocol: 'http' })) >= 2, 'connections counted by protocol');
});

void t.test('SIGTERM drains: /ready turns 503, the open call finishes, exit 0', async (t) => {
  const server = lab.sidecars.server;
  t.equal((await lab.adminGet(lab.server, '/ready')).status, 200, 'ready before');
  const slow = lab.runClient<{ status: number; body: string }>('fetch', lab.appUrl('/slow?ms=1500'), 'POST', 's');
  await eventually('the slow call to reach the server sidecar', async () =>
    (await lab.metric(lab.server, 'meshtap_sidecar_connections_active', { direction: 'inbound' })) >= 1 ? true : undefined,
  );
  process.kill(server.pid, 'SIGTERM');
  const ready = await eventually('/ready to turn 503', async () => {
    const r = await lab.adminGet(lab.server, '/ready');
    return r.status === 503 ? r : undefined;
  });
  t.match(ready.body, /draining/);
  t.equal((await lab.adminGet(lab.server, '/healthz')).status, 200, 'still alive while draining');
  t.same(await slow, { status: 200, body: 'slow ok' }, 'the call in flight completed');
  const code = await server.proc.wait(10_000);
  t.equal(code, 0, 'the sidecar exited 0 after draining');
  t.match(server.proc.output, /"msg":"stopped"/);
});

void t.test('nothing is left behind', async (t) => {
  await lab.destroy();
  t.same(await lab.leftovers(), []);
});
