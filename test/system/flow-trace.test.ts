/**
 * One trace per flow when apps propagate no trace context: three meshed pods (client → middle
 * → server) with real sidecars, the real controller (CA + membership) and the real collector.
 * The middle app calls the server on behalf of each request without forwarding any header; its
 * sidecar links the call to the request in flight, and the collector joins the two hops.
 */
import { randomBytes } from 'node:crypto';
import { rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { spawnInNetns, type PodNetns } from '../../lab/netns.ts';
import type { CallRecordJson } from '../../record/record-json.ts';
import { derivedTraceId, serverSpanId } from '../../record/trace-ids.ts';
import { APP_UID, MeshLab, NODE, Proc, REPO, eventually } from './harness.ts';
import { createMeshPki, meshSidecarEnv, startController } from './mesh-pki.ts';

const NS = 'systest';
const SA = { client: 'frontend', middle: 'gateway', server: 'catalog' } as const;
type PodName = keyof typeof SA;
const RELAY_PORT = 8080;

const pki = await createMeshPki(t, 'meshtap-flow', NS, SA);
let grpcPort = 0;
const sidecarEnv = (lab: MeshLab, pod: PodName): Record<string, string> => meshSidecarEnv(lab, pki, grpcPort, pod, SA[pod]);

let middle!: PodNetns;
let lab!: MeshLab;
lab = await MeshLab.start({
  beforeSidecars: async (l) => {
    lab = l;
    middle = await l.net.addPod('middle');
    const inventoryFile = join(pki.dir, 'inventory.json');
    const pods = [
      { name: 'client', namespace: NS, ip: l.client.ip, serviceAccount: SA.client, meshed: true },
      { name: 'middle', namespace: NS, ip: middle.ip, serviceAccount: SA.middle, meshed: true },
      { name: 'server', namespace: NS, ip: l.server.ip, serviceAccount: SA.server, meshed: true },
    ];
    await writeFile(`${inventoryFile}.tmp`, JSON.stringify({ pods }));
    await rename(`${inventoryFile}.tmp`, inventoryFile);
    grpcPort = (await startController(l, pki, inventoryFile)).grpcPort;
  },
  sidecarEnvFor: {
    get client() {
      return sidecarEnv(lab, 'client');
    },
    get server() {
      return sidecarEnv(lab, 'server');
    },
  },
});
t.teardown(async () => {
  await lab.destroy();
});

await lab.addInjectedPod('middle', middle, sidecarEnv(lab, 'middle'));
const relay = lab.adopt(
  new Proc('relay app', spawnInNetns(middle.netns, NODE, [join(REPO, 'test/system/relay-app.ts'), String(RELAY_PORT), lab.appUrl('')], { uid: APP_UID, cwd: REPO, env: lab.baseEnv() })),
);
await relay.waitFor(/"ready":true/);
await eventually('certificates and membership in all three sidecars', async () => {
  for (const pod of [lab.client, middle, lab.server]) {
    if ((await lab.metric(pod, 'meshtap_sidecar_membership_version')) === 0) return undefined;
    if (!/^meshtap_sidecar_identity_cert_info\{/m.test((await lab.adminGet(pod, '/metrics')).body)) return undefined;
  }
  return true;
}, 30_000);

async function collectorGet<T>(path: string): Promise<{ status: number; body: T }> {
  const res = await fetch(`http://${lab.net.gateway}:${lab.collectorPorts!.http}${path}`, { headers: { authorization: `Bearer ${lab.apiToken}` } });
  return { status: res.status, body: (await res.json()) as T };
}

/** The two hops of one flow, once all four records are in and agree on a trace (or time runs out). */
async function flowRecords(flow: string): Promise<{ hop1: CallRecordJson[]; hop2: CallRecordJson[] }> {
  return eventually(`four records of flow ${flow} in one trace`, async () => {
    const mine = await lab.calls(1000, `path.contains("flow=${flow}")`);
    const hop1 = mine.filter((r) => !r.path!.startsWith('/echo'));
    const hop2 = mine.filter((r) => r.path!.startsWith('/echo'));
    if (hop1.length !== 2 || hop2.length !== 2) return undefined;
    return new Set(mine.map((r) => r.trace_id)).size === 1 ? { hop1, hop2 } : undefined;
  }, 20_000).catch(async (err: Error) => {
    const mine = await lab.calls(1000, `path.contains("flow=${flow}")`);
    throw new Error(`${err.message}; records: ${JSON.stringify(mine.map((r) => ({ id: r.id, path: r.path, observer: r.observer, trace_id: r.trace_id, mesh: r.tls.mesh })))}\n${lab.logs()}`);
  });
}

const side = (records: CallRecordJson[], observer: 'inbound' | 'outbound') => records.find((r) => r.observer === observer)!;

void t.test('an app that propagates nothing: both hops end in one trace, one tree', async (t) => {
  const flow = randomBytes(6).toString('hex');
  const { stdout } = await lab.clientExec('curl', ['-sS', '--max-time', '10', `http://${middle.ip}:${RELAY_PORT}/plain?flow=${flow}`]);
  t.equal(stdout, 'upstream said: relayed', 'the flow went through all three pods');
  const { hop1, hop2 } = await flowRecords(flow);
  for (const r of [...hop1, ...hop2]) t.equal(r.tls.mesh, true, `${r.id}: meshed hop`);
  const first = side(hop1, 'outbound');
  const trace = derivedTraceId(first.connection_id, first.ordinal);
  for (const r of [...hop1, ...hop2]) t.equal(r.trace_id, trace, `${r.id} (${r.observer} ${r.path}) in the client's trace`);
  const linked = side(hop2, 'outbound');
  t.equal(linked.link_confidence, 1, 'one inbound call was in flight in the middle pod');
  t.equal(linked.parent_span_id, serverSpanId(first.connection_id, first.ordinal), 'under the middle pod\'s SERVER span');
  t.equal(side(hop2, 'inbound').connection_id, linked.connection_id, 'hop 2 is one meshed connection');

  const { status, body } = await collectorGet<{ trace_id: string; calls: { call: CallRecordJson; depth: number; parent_id?: string }[] }>(`/api/traces/${trace}`);
  t.equal(status, 200);
  t.equal(body.calls.length, 4, 'all four records in the trace');
  const byId = new Map(body.calls.map((c) => [c.call.id, c]));
  t.equal(body.calls.filter((c) => c.parent_id === undefined).length, 1, 'one root');
  t.equal(byId.get(first.id)?.depth, 0, 'the client\'s CLIENT span is the root');
  t.equal(byId.get(side(hop1, 'inbound').id)?.parent_id, first.id, 'the middle SERVER span under it');
  t.equal(byId.get(linked.id)?.parent_id, side(hop1, 'inbound').id, 'the middle pod\'s call under its SERVER span');
  t.equal(byId.get(side(hop2, 'inbound').id)?.parent_id, linked.id, 'the server\'s SERVER span under that');
  t.equal(byId.get(side(hop2, 'inbound').id)?.depth, 3);

  const calls = await collectorGet<{ calls: { trace_id?: string; path?: string }[] }>(`/api/calls?view=call&filter=${encodeURIComponent(`path.contains("flow=${flow}")`)}`);
  t.same(calls.body.calls.map((c) => c.trace_id), [trace, trace], 'view=call: both calls carry the final trace id');
});

void t.test('an app that propagates traceparent keeps its own trace; nothing is linked by timing', async (t) => {
  const flow = randomBytes(6).toString('hex');
  const appTrace = randomBytes(16).toString('hex');
  const { stdout } = await lab.clientExec('curl', ['-sS', '--max-time', '10', '-H', `traceparent: 00-${appTrace}-${randomBytes(8).toString('hex')}-01`, `http://${middle.ip}:${RELAY_PORT}/propagate?flow=${flow}`]);
  t.equal(stdout, 'upstream said: relayed');
  const { hop1, hop2 } = await flowRecords(flow);
  for (const r of [...hop1, ...hop2]) t.equal(r.trace_id, appTrace, `${r.id} in the app's trace`);
  t.equal(side(hop2, 'outbound').link_confidence, undefined, 'the app\'s context wins: no link');
});

void t.test('an app that starts a new trace for a request without context: one flow, in the client\'s trace', async (t) => {
  const flow = randomBytes(6).toString('hex');
  const { stdout } = await lab.clientExec('curl', ['-sS', '--max-time', '10', `http://${middle.ip}:${RELAY_PORT}/mint?flow=${flow}`]);
  const minted = /^upstream said: relayed trace=([0-9a-f]{32})$/.exec(stdout)?.[1];
  t.ok(minted, `the middle app started a trace of its own (${stdout})`);
  const { hop1, hop2 } = await flowRecords(flow);
  const first = side(hop1, 'outbound');
  const trace = derivedTraceId(first.connection_id, first.ordinal);
  for (const r of [...hop1, ...hop2]) t.equal(r.trace_id, trace, `${r.id} (${r.observer} ${r.path}) in the client's trace`);
  const call = side(hop2, 'outbound');
  t.equal(call.caused_by_trace_id, trace, 'the middle sidecar named the request that caused the call');
  t.equal(call.caused_by_span_id, serverSpanId(first.connection_id, first.ordinal), 'and its SERVER span');
  t.equal(call.link_confidence, undefined, 'the call kept its own context: nothing linked by timing in the sidecar');

  for (const id of [trace, minted!]) {
    const { status, body } = await collectorGet<{ trace_id: string; calls: { call: CallRecordJson; depth: number; parent_id?: string; linked_by?: string }[] }>(`/api/traces/${id}`);
    t.equal(status, 200, `found by ${id === trace ? 'the flow\'s' : 'the app\'s'} trace id`);
    t.equal(body.trace_id, trace);
    t.equal(body.calls.length, 4, 'all four records in the trace');
    const byId = new Map(body.calls.map((c) => [c.call.id, c]));
    t.equal(body.calls.filter((c) => c.parent_id === undefined).length, 1, 'one root');
    t.equal(byId.get(call.id)?.parent_id, side(hop1, 'inbound').id, 'the app\'s call under the request it served');
    t.equal(byId.get(call.id)?.linked_by, undefined, 'named by the sidecar (caused_by_span_id), not guessed by timing');
    t.equal(byId.get(side(hop2, 'inbound').id)?.depth, 3);
  }
});

void t.test('nothing is left behind', async (t) => {
  await lab.destroy();
  t.same(await lab.leftovers(), []);
});
