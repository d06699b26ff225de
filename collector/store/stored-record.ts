/**
 * A record as a `calls` row keeps it, and back.
 *
 * Rows stored from schema 4 keep the record as its protobuf (`meshtap.v1.CallRecord`, written by
 * the sidecar's own encoder), with the fields the wire message lacks in columns
 * (`STORED_RECORD_COLUMNS`). Rows stored before keep its JSON text, which holds every field.
 *
 * Why protobuf: the JSON text was the largest part of a row and of its cost. In the store
 * micro-benchmark (`node bench/collector-store.ts`, 100 000 records with 1 KiB bodies, scattered
 * ids) encoding took about a third of the time the JSON did, the row shrank by about a
 * kilobyte (bodies are bytes, not escaped or base64 text), and the store went from about 16 500
 * to 22 000–23 000 records per CPU-second, writing 12.3 KB per record instead of 15.4.
 */
import type { SQLInputValue } from 'node:sqlite';
import { MeshtapError } from '../../lib/errors.ts';
import { decodeRecord } from '../../record/codec.ts';
import type { CallRecord } from '../../record/record.ts';
import { recordFromJson, type CallRecordJson } from '../../record/record-json.ts';
import { decodeCallRecordMessage } from '../../record/record-reader.ts';
import { encodeCallRecord } from '../../record/record-writer.ts';
import { COL_ERR_STORE } from '../errors.ts';

/** The columns `STORED_RECORD_COLUMNS` selects. */
export interface StoredRecordRow {
  id: SQLInputValue;
  record: SQLInputValue;
  trace_id: SQLInputValue;
  attempt: SQLInputValue;
  first_attempt_id: SQLInputValue;
  retry_after_honoured: SQLInputValue;
}

/** What the `record` column gets for a record. */
export function storedRecord(record: CallRecord): Uint8Array {
  return encodeCallRecord(record);
}

function unreadable(row: StoredRecordRow, detail: string): MeshtapError {
  return new MeshtapError(COL_ERR_STORE, `a stored record cannot be read (id ${JSON.stringify(row.id)}): ${detail}`);
}

/** The record a row holds, in whichever form it was stored. */
export function recordFromRow(row: StoredRecordRow): CallRecord {
  const stored = row.record;
  if (typeof stored === 'string') {
    try {
      return recordFromJson(JSON.parse(stored) as CallRecordJson);
    } catch (err) {
      throw unreadable(row, `bad JSON: ${(err as Error).message}`);
    }
  }
  if (!(stored instanceof Uint8Array)) throw unreadable(row, `the record column holds ${stored === null ? 'NULL' : typeof stored}`);
  let decoded: ReturnType<typeof decodeRecord>;
  try {
    decoded = decodeRecord(decodeCallRecordMessage(stored));
  } catch (err) {
    throw unreadable(row, `bad protobuf: ${(err as Error).message}`);
  }
  if (!decoded.ok) throw unreadable(row, decoded.detail);
  const record = decoded.record;
  if (typeof row.trace_id === 'string') record.trace_id = row.trace_id;
  else delete record.trace_id;
  if (row.attempt !== null) record.attempt = Number(row.attempt);
  if (typeof row.first_attempt_id === 'string') record.first_attempt_id = row.first_attempt_id;
  if (row.retry_after_honoured !== null) record.retry_after_honoured = Number(row.retry_after_honoured) === 1;
  return record;
}
