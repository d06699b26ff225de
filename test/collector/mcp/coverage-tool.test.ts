/** The `coverage` MCP tool through the SDK's client, over the collector's own `/mcp` with a token. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import t from 'tap';
import { startCollector } from '../../../collector/collector.ts';
import { resolveCollectorOptions } from '../../../collector/config.ts';
import { createSinkLogger } from '../../../lib/log.ts';
import type { CallRecord } from '../../../record/record.ts';
import { callRecord } from '../helpers.ts';

const TOKEN = 'coverage-tool-token-0123456789';
type ToolCall = { isError?: boolean; content: { type: string; text?: string }[] };
const textOf = (r: unknown): string => (r as ToolCall).content.map((c) => c.text ?? '').join('');

const fe = { workload: 'frontend', namespace: 'shop', pod: 'frontend-1' };
const pay = { workload: 'payment', namespace: 'shop', pod: 'payment-1' };

/** frontend → payment: 3 meshed calls (both sides); 1 from an unmeshed legacy client; payment → an opaque TCP peer. */
function records(now: bigint): CallRecord[] {
  const out: CallRecord[] = [];
  for (let i = 1; i <= 3; i++) {
    const c = { connectionId: `m-${i}`, at: i, mesh: true, status: 200 };
    out.push(callRecord({ ...c, id: `o-${i}`, observer: 'outbound', src: fe, dst: pay }), callRecord({ ...c, id: `i-${i}`, observer: 'inbound', src: fe, dst: pay }));
  }
  out.push(callRecord({ id: 'u', observer: 'inbound', connectionId: 'u', at: 5, src: { ip: '10.1.2.3' }, dst: pay, status: 200 }));
  out.push(callRecord({ id: 't', protocol: 'tcp', observer: 'outbound', connectionId: 't', at: 6, src: pay, dst: { ip: '10.9.9.9' } }));
  // Shift to a minute ago so the default window holds them.
  const shift = now - 60_000_000_000n - out[0].start;
  return out.map((r) => ({ ...r, start: r.start + shift, end: r.end + shift }));
}

void t.test('coverage over MCP: the tool is listed with a usable description and answers per workload', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'meshtap-mcp-coverage-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'tokens'), `${TOKEN}\n`);
  const collector = await startCollector(
    resolveCollectorOptions({ host: '127.0.0.1', grpcPort: 0, httpPort: 0, store: 'memory', auth: 'token', authTokenFile: join(dir, 'tokens') }),
    { log: createSinkLogger(() => {}) },
  );
  t.teardown(() => collector.close({ force: true }));
  await collector.store.add(records(BigInt(Date.now()) * 1_000_000n));

  const transport = new StreamableHTTPClientTransport(new URL(`http://127.0.0.1:${collector.httpPort}/mcp`), { requestInit: { headers: { authorization: `Bearer ${TOKEN}` } } });
  const client = new Client({ name: 'meshtap-test', version: '1.0.0' });
  await client.connect(transport);
  t.teardown(() => client.close());

  const { tools } = await client.listTools();
  const tool = tools.find((x) => x.name === 'coverage');
  t.ok(tool, 'listed');
  t.match(tool!.description, /unmeshed_peer/);
  t.match(tool!.description, /opaque/);
  t.same(Object.keys((tool!.inputSchema as { properties: object }).properties).sort(), ['limit', 'until', 'window', 'workload']);

  const all = JSON.parse(textOf(await client.callTool({ name: 'coverage', arguments: {} })));
  const ids = all.workloads.map((w: { workload: string }) => w.workload);
  t.equal(ids[0], 'shop/payment', 'the busiest workload first');
  t.same([...ids].sort(), ['ip/10.1.2.3', 'ip/10.9.9.9', 'shop/frontend', 'shop/payment']);
  const payment = all.workloads[0];
  t.match(payment, { inbound: { calls: 4, unmeshed_peer: 1, parsed: { http: 4 } }, outbound: { calls: 1, opaque: 1, unmeshed_peer: 1 }, excluded: { known: false } });
  t.match(payment.summary[0], '25% of inbound calls come from unmeshed peers — their client side is not observed: ip/10.1.2.3 (http, 1 call).');
  t.same(all.collector_refused_since_start, { records_rejected: {}, batches_rejected: {} }, 'only non-zero reasons, none here');
  t.ok(all.edges.some((e: { edge: string; calls: number }) => e.edge === 'shop/frontend → shop/payment' && e.calls === 3));

  const one = JSON.parse(textOf(await client.callTool({ name: 'coverage', arguments: { workload: 'frontend', limit: 5 } })));
  t.same(one.workloads.map((w: { workload: string }) => w.workload), ['shop/frontend']);
  t.same(one.edges.map((e: { edge: string }) => e.edge), ['shop/frontend → shop/payment']);

  const missing = (await client.callTool({ name: 'coverage', arguments: { workload: 'nope' } })) as ToolCall;
  t.equal(missing.isError, true);
  t.match(textOf(missing), /no calls of workload "nope"/);
  const badWindow = (await client.callTool({ name: 'coverage', arguments: { window: 'yesterday' } })) as ToolCall;
  t.equal(badWindow.isError, true, 'a window the collector refuses is a tool error');
});
