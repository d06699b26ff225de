/**
 * WebSocket messages not recorded reach `/metrics` while the connection is open: the capture
 * worker's core (real parsers, the sidecar's default WebSocket bounds) fed a flood on one
 * connection, its counters read through the sidecar's Prometheus view.
 */
import t from 'tap';
import { OP_CLIENT_DATA, OP_CLOSE, OP_OPEN, OP_SERVER_DATA } from '../../../sidecar/capture-worker/ops.ts';
import { createSidecarMetrics } from '../../../sidecar/metrics.ts';
import type { ConnectionMeta } from '../../../sidecar/proxy/connection.ts';
import { recordingEngine } from '../capture-worker/recording-engine.ts';

const enc = (s: string) => new TextEncoder().encode(s);
/** A server text frame (unmasked). */
const frame = (s: string) => Buffer.concat([Buffer.from([0x81, s.length]), Buffer.from(s)]);

const METRIC = 'meshtap_sidecar_capture_overflow_total{reason="ws_message_rate"}';

void t.test('messages not recorded move meshtap_sidecar_capture_overflow_total{reason="ws_message_rate"} before the connection closes', async (t) => {
  const { engine, records } = recordingEngine('frontend');
  const registry = createSidecarMetrics({ stats: engine.counters, shipper: () => undefined, draining: () => false });
  const scrape = async (): Promise<number> => {
    const line = (await registry.metrics()).split('\n').find((l) => l.startsWith(METRIC));
    return line === undefined ? 0 : Number(line.slice(METRIC.length + 1));
  };
  const meta: ConnectionMeta = { connectionId: 'feed-1', observer: 'inbound', client: { ip: '10.0.0.1', port: 40000 }, dst: { ip: '10.0.0.2', port: 8080 }, mesh: true };
  engine.op(OP_OPEN, 1, 0, enc(JSON.stringify(meta)));
  engine.op(OP_CLIENT_DATA, 1, 1, enc('GET /feed HTTP/1.1\r\nHost: frontend\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: x\r\n\r\n'));
  engine.op(OP_SERVER_DATA, 1, 2, enc('HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n'));
  t.equal(await scrape(), 0, 'nothing counted yet');

  // 3000 messages in 1.5 s: beyond the default burst and rate.
  let sent = 0;
  const flood = (fromMs: number, n: number) => {
    for (let i = 0; i < n; i++) engine.op(OP_SERVER_DATA, 1, fromMs + i * 0.5, frame(`tick ${sent++}`));
  };
  flood(10, 3000);
  const ws = () => records.filter((r) => r.protocol === 'ws');
  const recorded = () => ws().filter((r) => r.method === 'TEXT').length;
  const reported = () => ws().filter((r) => r.error === 'capture_overflow').reduce((n, r) => n + Number(/^(\d+) /.exec(r.error_detail ?? '')![1]), 0);
  const first = await scrape();
  t.ok(first > 0, `the metric moved while the connection is open (${first})`);
  t.equal(recorded() + first, sent, 'recorded + counted = messages sent');
  t.ok(ws().some((r) => r.error === 'capture_overflow'), 'and a marker record is out already');
  t.ok(reported() <= first, 'markers report what was counted, at most a second late');

  // A minute later the same again: still recorded in part, the metric moves again.
  flood(60_000, 3000);
  const second = await scrape();
  t.ok(second > first, `moved again (${second})`);
  t.equal(recorded() + second, sent);
  engine.op(OP_CLOSE, 1, 70_000, enc('fin'));
  t.equal(await scrape(), second, 'nothing counted twice at close');
  t.equal(reported(), second, 'the markers, the last one at close, report every message the metric counted');
});
