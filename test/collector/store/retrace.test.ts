/** Moving a stored trace to another id: the trace index, the stored record and filters all follow. */
import t from 'tap';
import { compileFilter, isCompiledFilter } from '../../../collector/filter/compile.ts';
import { createMemoryStore } from '../../../collector/memory-store.ts';
import type { RecordStore } from '../../../collector/record-store.ts';
import { createSqliteStore } from '../../../collector/store/sqlite-store.ts';
import { hop, FRONTEND, GATEWAY } from '../otel/records.ts';

const OLD = '1'.repeat(32);
const NEW = '2'.repeat(32);
const OTHER = '3'.repeat(32);

const stores: [string, () => RecordStore][] = [
  ['memory', () => createMemoryStore({ maxRecords: 100 })],
  ['sqlite', () => createSqliteStore({ path: ':memory:', retentionIntervalMs: 0 })],
];

for (const [name, open] of stores) {
  void t.test(`${name}: retrace moves exactly the records of one trace`, async (t) => {
    const store = open();
    t.teardown(() => store.close());
    const a = hop({ connection: 'a', ordinal: 0, from: FRONTEND, to: GATEWAY, at: 0n });
    const b = hop({ connection: 'b', ordinal: 0, from: FRONTEND, to: GATEWAY, at: 0n });
    a.outbound.trace_id = OLD;
    a.inbound.trace_id = OLD;
    b.outbound.trace_id = OTHER;
    await store.add([a.outbound, a.inbound, b.outbound, b.inbound]);
    t.equal(await store.retrace(OLD, NEW), 2);
    t.same(await store.byTrace(OLD), []);
    t.same((await store.byTrace(NEW)).map((r) => r.id).sort(), [a.inbound.id, a.outbound.id].sort());
    t.equal((await store.get(a.inbound.id))?.trace_id, NEW, 'the stored record');
    t.equal((await store.get(b.outbound.id))?.trace_id, OTHER, 'another trace untouched');
    t.equal((await store.get(b.inbound.id))?.trace_id, undefined, 'a record without a trace untouched');
    const filter = compileFilter(`trace_id == "${NEW}"`);
    if (!isCompiledFilter(filter)) throw new Error('filter did not compile');
    t.equal((await store.list({ limit: 10, filter })).length, 2, 'filters see the new id');
    t.equal(await store.retrace(OLD, NEW), 0, 'nothing left under the old id');
    // Everything else about the record is unchanged (the fixture's `pod_uid` is the OTel tests'
    // own, not a record field: a store keeps the record's fields).
    const moved = (await store.get(a.outbound.id))!;
    const { pod_uid: _podUid, ...src } = a.outbound.src as typeof a.outbound.src & { pod_uid?: string };
    t.same({ ...moved, trace_id: OLD }, name === 'sqlite' ? { ...a.outbound, src } : a.outbound);
  });
}
