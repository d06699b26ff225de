/**
 * Bodies built to make detectors slow (an e-mail candidate 60 000 characters long, digit runs,
 * JWT-like runs, deep JSON, a form of escapes) cross a sidecar pair while a second connection
 * of the same pod keeps asking: capture runs on the capture worker, so the other requests are
 * answered as fast as ever, the adversarial ones byte-exact, and their records still arrive
 * masked.
 */
import t from 'tap';
import { MeshLab, eventually } from './harness.ts';

const lab = await MeshLab.start();
t.teardown(() => lab.destroy());

void t.test('adversarial bodies: forwarded byte-exact, other requests unaffected meanwhile, records masked', async (t) => {
  // A baseline for the probe on this machine, before the adversarial load.
  const quiet = await lab.runClient<{ ok: number; slowest_ms: number }>('probe', lab.appUrl('/echo?probe=quiet'), '1500');
  t.ok(quiet.ok > 0, `probe alone: ${quiet.ok} answered, slowest ${quiet.slowest_ms.toFixed(1)} ms`);
  const [attack, probe] = await Promise.all([
    lab.runClient<{ ok: number; sent: number }>('adversarial', lab.appUrl('/echo?adversarial=1'), '3'),
    lab.runClient<{ ok: number; slowest_ms: number }>('probe', lab.appUrl('/echo?probe=during'), '3000'),
  ]);
  t.equal(attack.ok, attack.sent, `every adversarial body echoed byte-exact (${attack.ok} of ${attack.sent})`);
  t.ok(probe.ok > 0, `the other connection kept being answered (${probe.ok} requests)`);
  // Synchronous detectors on the forwarding path stalled other requests for seconds; the bound
  // leaves room for a loaded 2-core machine (the probe's first request, which connects, apart).
  t.ok(probe.slowest_ms < 1500, `slowest other request during the attack: ${probe.slowest_ms.toFixed(1)} ms (alone: ${quiet.slowest_ms.toFixed(1)} ms)`);
  const records = await eventually(
    'the adversarial records',
    async () => {
      const found = await lab.calls(1000, 'path == "/echo?adversarial=1"');
      return found.length >= 2 * attack.sent ? found : undefined;
    },
    60_000,
  );
  t.equal(records.length, 2 * attack.sent, 'one record per request per sidecar');
  const json = records.filter((r) => r.request?.content_type === 'application/json' && JSON.stringify(r.request).includes('note'));
  t.ok(json.length > 0, 'the JSON body with a password was captured');
  t.notOk(JSON.stringify(records).includes('hunter2'), 'the password masked in every record');
});
