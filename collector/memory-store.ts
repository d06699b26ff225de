import type { CallRecord } from '../record/record.ts';
import { MAX_TRACE_RECORDS, compareTraceOrder, type AddResult, type ListQuery, type RecordStore, type SummaryQuery } from './record-store.ts';
import { createTimeSlicer } from './store/time-slice.ts';

/**
 * A ring of the last `maxRecords` records, with an id index. The oldest is evicted first.
 * Filters are evaluated in JS over the ring, newest first.
 */
export function createMemoryStore(options: { maxRecords: number }): RecordStore {
  const capacity = options.maxRecords;
  const slots: (CallRecord | undefined)[] = new Array(capacity);
  const byId = new Map<string, CallRecord>();
  let next = 0;
  let size = 0;
  /** Records ever added: record number n (from 0) is in slot n % capacity while n >= everAdded - size. */
  let everAdded = 0;

  function* newestFirst(): Generator<CallRecord> {
    for (let k = 0; k < size; k++) yield slots[(next - 1 - k + capacity) % capacity]!;
  }

  return {
    async oldestStart() {
      let oldest: bigint | undefined;
      for (let k = 0; k < size; k++) {
        const start = slots[(next - 1 - k + capacity) % capacity]!.start;
        if (oldest === undefined || start < oldest) oldest = start;
      }
      return oldest;
    },
    async add(records): Promise<AddResult> {
      const added: CallRecord[] = [];
      for (const record of records) {
        if (byId.has(record.id)) continue;
        const evicted = slots[next];
        if (evicted !== undefined && byId.get(evicted.id) === evicted) byId.delete(evicted.id);
        slots[next] = record;
        byId.set(record.id, record);
        next = (next + 1) % capacity;
        everAdded++;
        if (size < capacity) size++;
        added.push(record);
      }
      return { stored: added.length, duplicates: records.length - added.length, added };
    },
    async list(query: ListQuery) {
      const out: CallRecord[] = [];
      const stats = query.stats ?? { scanned: 0, truncated: false };
      stats.scanned = 0;
      stats.truncated = false;
      stats.pauses = 0;
      if (query.limit <= 0) return out;
      const maxScan = query.maxScan ?? Infinity;
      const slicer = createTimeSlicer(query.sliceMs);
      // By record number, not slot: records added while the scan gives a turn are newer than it
      // (not seen), and one evicted meanwhile ends it (everything older went with it).
      for (let n = everAdded - 1; n >= 0 && n >= everAdded - size; n--) {
        if (stats.scanned >= maxScan) {
          stats.truncated = true;
          break;
        }
        const record = slots[n % capacity]!;
        stats.scanned++;
        if (query.since !== undefined && record.start < query.since) continue;
        if (query.until !== undefined && record.start >= query.until) continue;
        const matched = query.filter === undefined || query.filter.matches(record);
        if (matched) {
          out.push(record);
          if (out.length >= query.limit) break;
        }
        if (query.filter !== undefined && slicer.due()) {
          await slicer.pause();
          stats.pauses = slicer.pauses;
        }
      }
      return out;
    },
    async get(id) {
      return byId.get(id);
    },
    async byTrace(traceId) {
      const out: CallRecord[] = [];
      for (const record of newestFirst()) {
        if (record.trace_id === traceId) out.push(record);
        if (out.length >= MAX_TRACE_RECORDS) break;
      }
      return out.sort(compareTraceOrder);
    },
    async retrace(from, to) {
      let moved = 0;
      for (let k = 0; k < size; k++) {
        const i = (next - 1 - k + capacity) % capacity;
        const record = slots[i]!;
        if (record.trace_id !== from) continue;
        // A new object: readers holding the old one (the live stream) see what they were given.
        const retraced = { ...record, trace_id: to };
        slots[i] = retraced;
        if (byId.get(record.id) === record) byId.set(record.id, retraced);
        moved++;
      }
      return moved;
    },
    async summaries(query: SummaryQuery) {
      const out: CallRecord[] = [];
      for (const record of newestFirst()) {
        if (out.length >= query.limit) break;
        if (record.start >= query.since && (query.until === undefined || record.start < query.until)) out.push(record);
      }
      return out;
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
