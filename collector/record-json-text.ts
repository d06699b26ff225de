/**
 * A record's JSON text, built once however many outputs send it (the Loki line; the SQLite
 * store keeps the record as protobuf).
 * Records are not changed after enrichment, which is what makes the cache safe. The text is
 * `JSON.stringify(recordToJson(record))`, built directly (`recordJsonString`).
 */
import type { CallRecord } from '../record/record.ts';
import { recordJsonString } from '../record/record-json.ts';

const cache = new WeakMap<CallRecord, string>();

export function recordJsonText(record: CallRecord): string {
  let text = cache.get(record);
  if (text === undefined) {
    text = recordJsonString(record);
    cache.set(record, text);
  }
  return text;
}
