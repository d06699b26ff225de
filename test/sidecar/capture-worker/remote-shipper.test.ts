/**
 * The forwarding thread's side of the worker's shipper, without a worker: the metrics relay
 * replays exactly what was recorded, the workload certificate reaches the worker as PEM when it
 * is issued (and `auto` mode's first wait is passed on), and a lost worker's queue is counted.
 * (hand-off.test.ts runs the same objects with a real worker and a real collector.)
 */
import t from 'tap';
import { RemoteShipper, type IdentitySource } from '../../../sidecar/capture-worker/remote-shipper.ts';
import type { ToWorker } from '../../../sidecar/capture-worker/messages.ts';
import { createShipperMetricsRecorder, replayShipperDeltas } from '../../../sidecar/shipper/metrics-relay.ts';
import type { ShipperStats } from '../../../sidecar/shipper/metrics.ts';
import type { CollectorTlsMode } from '../../../sidecar/config.ts';

void t.test('metrics relay: the replay calls the hooks the recorder saw, once', async (t) => {
  let changes = 0;
  const source = createShipperMetricsRecorder(() => changes++);
  t.equal(source.take(), undefined, 'nothing recorded: nothing to post');
  source.metrics.recordsOffered(3);
  source.metrics.recordsOffered(2);
  source.metrics.recordsShipped(4);
  source.metrics.recordsDropped('queue_full', 1);
  source.metrics.recordsDropped('queue_full', 2);
  source.metrics.batchSent(3, 900);
  source.metrics.batchSent(2, 400);
  source.metrics.batchAcked(0.004);
  source.metrics.streamConnected();
  source.metrics.streamClosed('collector went away');
  t.equal(changes, 10, 'the owner is told of every hook');
  const deltas = source.take();
  t.same(deltas, {
    offered: 5,
    shipped: 4,
    dropped: { queue_full: 3 },
    batches: [3, 900, 2, 400],
    acks: [0.004],
    connects: 1,
    closes: ['collector went away'],
  });
  t.equal(source.take(), undefined, 'taken once');
  const calls: string[] = [];
  replayShipperDeltas(deltas!, {
    recordsOffered: (n) => calls.push(`offered ${n}`),
    recordsShipped: (n) => calls.push(`shipped ${n}`),
    recordsDropped: (reason, n) => calls.push(`dropped ${reason} ${n}`),
    batchSent: (records, bytes) => calls.push(`batch ${records} ${bytes}`),
    batchAcked: (s) => calls.push(`ack ${s}`),
    streamConnected: () => calls.push('connected'),
    streamClosed: (reason) => calls.push(`closed ${reason}`),
  });
  t.same(calls, ['offered 5', 'shipped 4', 'dropped queue_full 3', 'batch 3 900', 'batch 2 400', 'ack 0.004', 'connected', 'closed collector went away']);
});

const PEM = { keyPem: 'KEY', certPem: 'CERT', trustBundlePem: 'ROOTS' };

function fakeIdentity(): IdentitySource & { issue(serial: string): void; firstWaitEnds(): void } {
  let current: ReturnType<IdentitySource['current']>;
  const listeners: (() => void)[] = [];
  let endWait!: (ok: boolean) => void;
  const first = new Promise<boolean>((resolve) => (endWait = resolve));
  return {
    current: () => current,
    onIssued: (listener) => listeners.push(listener),
    waitForFirst: () => first,
    issue(serial) {
      // What the workload identity holds carries more than the worker needs (a SecureContext).
      current = { spiffeId: 'spiffe://cluster.local/ns/shop/sa/web', serialNumber: serial, notAfterMs: 4e12, ...PEM, secureContext: {} } as never;
      for (const l of listeners) l();
    },
    firstWaitEnds: () => endWait(true),
  };
}

function remoteWith(mode: CollectorTlsMode): RemoteShipper {
  return new RemoteShipper({ collectorAddr: '127.0.0.1:9400', sidecar: { pod: 'web', namespace: 'shop', pod_ip: '10.0.0.1', node: '', service_account: 'web', sidecar_version: 't' }, tls: { mode, serverName: 'c' } });
}

void t.test('identity: auto mode holds the first connection until the first wait ends; each certificate is posted as PEM', async (t) => {
  const identity = fakeIdentity();
  const remote = remoteWith('auto');
  remote.connect({ identity, firstIdentityTimeoutMs: 1000 });
  const posted: ToWorker[] = [];
  t.same(remote.startData().identity, { gate: false, identity: undefined }, 'a worker starting now waits');
  remote.attach((m) => posted.push(m));
  identity.issue('01');
  identity.firstWaitEnds();
  await new Promise((r) => setImmediate(r));
  const expected = { spiffeId: 'spiffe://cluster.local/ns/shop/sa/web', serialNumber: '01', notAfterMs: 4e12, ...PEM };
  t.same(posted, [
    { kind: 'identity', gate: false, identity: expected },
    { kind: 'identity', gate: true, identity: expected },
  ]);
  t.notOk('secureContext' in ((posted[0] as { identity: object }).identity ?? {}), 'only plain data crosses to the worker');
  identity.issue('02');
  t.match(posted.at(-1), { kind: 'identity', gate: true, identity: { serialNumber: '02' } }, 'a rotation is posted');
  t.match(remote.startData().identity, { gate: true, identity: { serialNumber: '02' } }, 'a worker started later gets the current one');
});

void t.test('identity: on and off modes never wait; without a CA there is nothing to post', async (t) => {
  for (const mode of ['on', 'off'] as const) {
    const remote = remoteWith(mode);
    remote.connect({ identity: fakeIdentity() });
    t.equal(remote.startData().identity.gate, true, `${mode}: no first wait`);
  }
  const bare = remoteWith('auto');
  bare.connect({});
  t.same(bare.startData().identity, { gate: true, identity: undefined }, 'no CA: auto ships in plaintext at once');
});

function report(stats: Partial<ShipperStats>): { stats: ShipperStats } {
  const base = remoteWith('off').stats();
  return { stats: { ...base, ...stats, dropped: { ...base.dropped, ...stats.dropped } } };
}

void t.test('a lost worker: its queue and in-flight records counted as worker_failed, its totals kept across workers', async (t) => {
  const remote = remoteWith('off');
  const drops: string[] = [];
  remote.connect({ metrics: { recordsDropped: (reason, n) => drops.push(`${reason} ${n}`) } });
  remote.workerLost();
  t.equal(remote.stats().droppedTotal, 0, 'no report yet: nothing known, nothing counted');
  remote.report(report({ offered: 10, shipped: 4, queueRecords: 3, inFlightRecords: 2, connects: 1, dropped: { queue_full: 1 } as ShipperStats['dropped'] }));
  remote.workerLost();
  t.match(remote.stats(), { offered: 10, shipped: 4, queueRecords: 0, connects: 1, dropped: { worker_failed: 5, queue_full: 1 }, droppedTotal: 6 });
  t.same(drops, ['worker_failed 5'], 'the metric counts the loss too');
  remote.report(report({ offered: 2, shipped: 2, connects: 1, connected: true }));
  t.match(remote.stats(), { offered: 12, shipped: 6, connects: 2, connected: true, droppedTotal: 6 }, 'the next worker adds to the totals');
  t.same(await remote.close({ drainMs: 10 }), remote.stats(), 'no worker attached: close resolves with what is known');
});

void t.test('offers: a record the encoder cannot read is refused and counted; good ones are posted packed, one message a turn', async (t) => {
  const remote = remoteWith('off');
  const posted: ToWorker[] = [];
  remote.attach((m) => posted.push(m));
  t.notOk(remote.offer({} as never), 'refused');
  t.match(remote.stats(), { offered: 1, dropped: { rejected: 1 } });
  t.equal(posted.length, 0, 'nothing posted');
  t.ok(remote.offerEncoded(new Uint8Array([7, 8, 9])));
  t.ok(remote.offerEncoded(new Uint8Array([5])));
  t.equal(posted.length, 0, 'gathered until the end of the turn');
  await new Promise((r) => setImmediate(r));
  t.equal(posted.length, 1, 'one message for the turn');
  const message = posted[0] as Extract<ToWorker, { kind: 'ship' }>;
  t.equal(message.kind, 'ship');
  t.same([...new Uint8Array(message.records)], [3, 0, 0, 0, 7, 8, 9, 1, 0, 0, 0, 5], 'length-prefixed as the worker packs its own');
  t.ok(remote.offerEncoded(new Uint8Array([1])));
  remote.detach();
  t.equal(posted.length, 2, 'a worker going away takes what was offered before it went');
});
