/**
 * The capture worker resolves the sidecar's masking policy once and gives it to the sessions
 * that mask while parsing as well as to the record masker: with `MESHTAP_MASK_KEYS=iban`'s
 * options, a Redis `HSET … iban x` through the proxy comes back from a real worker thread with
 * its value masked, and a value under no added key as it was sent.
 */
import { once } from 'node:events';
import { connect, createServer, type AddressInfo } from 'node:net';
import t from 'tap';
import { collectorMessageType } from '../../../record/codec.ts';
import { createCaptureHandOff } from '../../../sidecar/capture-worker/hand-off.ts';
import { createEpochClock } from '../../../sidecar/clock.ts';
import { maskOptionsFromEnv } from '../../../sidecar/mask/env-policy.ts';
import { createSidecarStats } from '../../../sidecar/metrics.ts';
import { loopbackProxy } from '../proxy/loopback-proxy.ts';

const recordType = collectorMessageType('meshtap.v1.CallRecord');
const decode = (bytes: Uint8Array) => recordType.toObject(recordType.decode(bytes), { longs: String }) as { method?: string; request?: { body: Uint8Array }; sensitive?: string[] };

/** Waits until `done()` holds, at most `ms`. */
async function until(done: () => boolean, ms = 5000): Promise<boolean> {
  const end = Date.now() + ms;
  while (!done() && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
  return done();
}

const resp = (...args: string[]): string => `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`;

void t.test('a key of the sidecar policy is masked by the Redis session in the worker', async (t) => {
  // A Redis stand-in: one integer reply per command (each a 4-element array).
  const server = createServer((socket) => {
    let seen = '';
    socket.on('data', (chunk: Buffer) => {
      seen += chunk.toString('latin1');
      const commands = seen.split('*4\r\n').length - 1;
      if (commands > 0) seen = seen.slice(seen.lastIndexOf('*4\r\n') + 4);
      for (let i = 0; i < commands; i++) socket.write(':1\r\n');
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const appPort = (server.address() as AddressInfo).port;

  const stats = createSidecarStats();
  const clock = createEpochClock();
  const records: ReturnType<typeof decode>[] = [];
  const handOff = createCaptureHandOff({
    worker: { maxBodyBytes: 1024, detectTimeoutMs: 50, local: { pod: 'web', namespace: 'shop' }, mask: maskOptionsFromEnv({ MESHTAP_MASK_KEYS: 'iban' }).options, shipping: true },
    clock,
    stats,
    onRecords: (batch) => {
      for (const r of batch) records.push(decode(r));
    },
  });
  await handOff.ready();
  const proxy = loopbackProxy({ clock, stats, capture: handOff, targetPort: appPort });
  const addresses = await proxy.listen();
  t.teardown(async () => {
    await proxy.stopAccepting();
    await proxy.drain(0);
    await handOff.close(2000);
    server.close();
  });

  const client = connect(addresses.outbound.port, '127.0.0.1');
  await once(client, 'connect');
  let replies = '';
  client.on('data', (chunk: Buffer) => (replies += chunk.toString('latin1')));
  client.write(resp('HSET', 'user:7', 'iban', 'DE-worker-secret'));
  t.ok(await until(() => replies.length >= 4), 'answered through the proxy');
  client.write(resp('HSET', 'user:7', 'city', 'Oslo'));
  t.ok(await until(() => replies.length >= 8), 'answered through the proxy');
  client.end();
  await once(client, 'close');
  await new Promise((r) => setTimeout(r, 100));
  t.ok(await handOff.flush(5000), 'flushed');

  t.same(
    records.map((r) => [r.method, Buffer.from(r.request?.body ?? []).toString()]),
    [
      ['HSET', 'HSET user:7 iban ****'],
      ['HSET', 'HSET user:7 city Oslo'],
    ],
  );
  t.same(records[0]?.sensitive, ['secret']);
});
