import type { CallRecord } from '../sidecar/record.ts';
import type { AddResult, ListQuery, RecordStore } from './record-store.ts';

/** A ring of the last `maxRecords` records, with an id index. The oldest is evicted first. */
export function createMemoryStore(options: { maxRecords: number }): RecordStore {
  const capacity = options.maxRecords;
  const slots: (CallRecord | undefined)[] = new Array(capacity);
  const byId = new Map<string, CallRecord>();
  let next = 0;
  let size = 0;

  return {
    async add(records): Promise<AddResult> {
      let stored = 0;
      let duplicates = 0;
      for (const record of records) {
        if (byId.has(record.id)) {
          duplicates++;
          continue;
        }
        const evicted = slots[next];
        if (evicted !== undefined && byId.get(evicted.id) === evicted) byId.delete(evicted.id);
        slots[next] = record;
        byId.set(record.id, record);
        next = (next + 1) % capacity;
        if (size < capacity) size++;
        stored++;
      }
      return { stored, duplicates };
    },
    async list(query: ListQuery) {
      const out: CallRecord[] = [];
      for (let k = 0; k < size && out.length < query.limit; k++) {
        const record = slots[(next - 1 - k + capacity) % capacity]!;
        if (query.since !== undefined && record.start < query.since) continue;
        out.push(record);
      }
      return out;
    },
    async get(id) {
      return byId.get(id);
    },
    async count() {
      return size;
    },
    async close() {
      byId.clear();
      slots.fill(undefined);
      size = 0;
    },
  };
}
