/** Store summaries carry the fields the service map and coverage read, in both stores alike. */
import t from 'tap';
import { createMemoryStore } from '../../collector/memory-store.ts';
import type { RecordStore } from '../../collector/record-store.ts';
import { createSqliteStore } from '../../collector/store/sqlite-store.ts';
import { callRecord } from './helpers.ts';

const kinds: [string, () => RecordStore][] = [
  ['memory', () => createMemoryStore({ maxRecords: 100 })],
  ['sqlite', () => createSqliteStore({ path: ':memory:', retentionIntervalMs: 0 })],
];

for (const [kind, make] of kinds) {
  void t.test(`${kind} store: summaries carry attempt, connection facts, truncation and app TLS`, async (t) => {
    const store = make();
    t.teardown(() => store.close());
    const full = callRecord({ id: 'full', at: 1, requestBody: '{"a":1}', responseBody: 'x' });
    full.attempt = 3;
    full.connection = { connect_us: 1234, tls_handshake_us: 800, reset_by: 'server', exchanges: 2 };
    full.response!.truncated = true;
    const tls = callRecord({ id: 'tls', at: 2, protocol: 'tls' });
    tls.tls = { mesh: false, app_tls: { sni: 'api.example.com', version: 'TLSv1.3', alpn: ['h2'] } };
    const bare = callRecord({ id: 'bare', at: 3 });
    await store.add([full, tls, bare]);
    const sums = new Map((await store.summaries({ since: 0n, limit: 10 })).map((s) => [s.id, s]));
    t.match(sums.get('full'), { attempt: 3, connection: { connect_us: 1234, tls_handshake_us: 800, reset_by: 'server', exchanges: 2 }, request: { truncated: false }, response: { truncated: true } });
    t.match(sums.get('tls'), { protocol: 'tls', tls: { mesh: false, app_tls: { sni: 'api.example.com', version: 'TLSv1.3' } } });
    const b = sums.get('bare')!;
    t.equal(b.attempt, undefined);
    t.equal(b.connection, undefined);
    t.equal(b.request, undefined, 'no request message, no request field');
    t.equal(b.tls.app_tls, undefined);
  });
}
