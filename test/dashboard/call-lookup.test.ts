/** What opening a record id or a call id in the call detail shows, and which list row it marks, run in Node as in the page. */
import t from 'tap';
import { loadBrowserModule } from './browser-modules.ts';

const { isJoinedCall, openedFrom, openedRecord } = await loadBrowserModule('call-lookup.js');
const { buildRows, rowHolds } = await loadBrowserModule('call-rows.js');

type Rec = { id: string; observer: 'outbound' | 'inbound'; connection_id: string; ordinal: number; start: string; end: string; elapsed_us: number; tls: { mesh: boolean } };
const rec = (conn: string, ordinal: number, observer: Rec['observer'], id = `${conn}-${observer === 'outbound' ? 'o' : 'i'}${ordinal}`): Rec => ({
  id,
  observer,
  connection_id: conn,
  ordinal,
  start: '1',
  end: '2',
  elapsed_us: observer === 'outbound' ? 20_000 : 14_000,
  tls: { mesh: true },
});

const CONN = '6b16d523e821c64744ddc882';
const client = rec(CONN, 1549, 'outbound');
const server = rec(CONN, 1549, 'inbound');
// `GET /api/calls/<call id>`'s `call`: one `view=call` item.
const joined = { id: `${CONN}:1549`, client, server, protocol: 'http', start: '1', src: {}, dst: {}, latency: {}, timing: { client_us: 20_000, server_us: 14_000, network_us: 6_000 } };

void t.test("a call id's answer is the call: it opens on the client's record, the call kept", async (t) => {
  t.equal(isJoinedCall(joined), true);
  t.equal(isJoinedCall(client), false, 'a record says which sidecar observed it');
  const opened = openedFrom(joined);
  t.equal(opened.record, client, "the client's observation, not the call as if it were one");
  t.equal(opened.joined, joined, 'the call itself, not looked up again');
  t.equal(opened.record.elapsed_us, 20_000);
  t.equal(opened.record.tls.mesh, true);
});

void t.test("a call only the server's sidecar saw opens on the server's record", async (t) => {
  const serverOnly = { ...joined, one_sided: 'server' } as Record<string, unknown>;
  delete serverOnly.client;
  t.same(openedFrom(serverOnly), { record: server, joined: serverOnly });
  const clientOnly = { ...joined, one_sided: 'client' } as Record<string, unknown>;
  delete clientOnly.server;
  t.equal(openedFrom(clientOnly).record, client);
});

void t.test("a record id's answer is the record; its call is looked up afterwards", async (t) => {
  t.same(openedFrom(server), { record: server });
  t.equal(openedFrom(server).joined, undefined);
});

void t.test('an answer that is neither opens nothing', async (t) => {
  for (const answer of [undefined, null, 'a', [], {}, { client: 'a' }, { client: {} }]) t.equal(openedFrom(answer), undefined, JSON.stringify(answer) ?? 'undefined');
});

void t.test("what the list holds of the id opened, shown before the collector answers", async (t) => {
  const other = rec(CONN, 7, 'outbound');
  // Newest first, the server's record before the client's, as the feed may hold them.
  const records = [other, server, client];
  t.equal(openedRecord(records, server.id), server, 'a record id: that record');
  t.equal(openedRecord(records, `${CONN}:1549`), client, "a call id: the client's record");
  t.equal(openedRecord([server], `${CONN}:1549`), server, "else the server's");
  t.equal(openedRecord(records, `${CONN}:9999`), undefined, 'a call the list does not hold');
  t.equal(openedRecord(records, 'nothing'), undefined);
  // A second client record of the same call (no sidecar sends one) has a call of its own.
  const clash = rec(CONN, 1549, 'outbound', 'clash');
  t.equal(openedRecord([clash, ...records], `${CONN}:1549#clash`), clash);
});

void t.test('the row of the id opened is marked, whichever kind of id', async (t) => {
  const other = rec('b', 0, 'outbound');
  const records = [server, other, client];
  const calls = buildRows(records, 'calls');
  const marked = (rows: any[], id: string) => rows.filter((r) => rowHolds(r, id)).map((r) => r.key);
  t.same(marked(calls, `${CONN}:1549`), [`${CONN}:1549`], 'a call id: its row');
  t.same(marked(calls, client.id), [`${CONN}:1549`], "a record id: its call's row");
  t.same(marked(calls, server.id), [`${CONN}:1549`]);
  t.same(marked(calls, 'b:0'), ['b:0']);
  t.same(marked(calls, `${CONN}:9999`), []);

  const observations = buildRows(records, 'records');
  t.same(marked(observations, server.id), [server.id], 'one row per observation: a record id, its row');
  t.same(marked(observations, `${CONN}:1549`), [server.id, client.id], 'a call id, the rows of its records');

  // A record clashing with an earlier one of its side (older, so listed after it) is a call of its own, and only that.
  const clash = rec(CONN, 1549, 'outbound', 'clash');
  const withClash = buildRows([...records, clash], 'calls');
  t.same(marked(withClash, `${CONN}:1549#clash`), [`${CONN}:1549#clash`]);
  t.same(marked(withClash, `${CONN}:1549`), [`${CONN}:1549`]);
});
