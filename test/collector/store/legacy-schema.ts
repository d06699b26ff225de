/**
 * The `calls` table as an older collector created it, for migration tests: today's schema
 * without the columns added since, the record kept as JSON text, and rows for it.
 */
import type { SQLInputValue } from 'node:sqlite';
import { CALLS_SCHEMA, RECORD_COLUMNS, callsRow } from '../../../collector/store/calls-schema.ts';
import { recordJsonString } from '../../../record/record-json.ts';
import type { CallRecord } from '../../../record/record.ts';

/** Columns by the schema version that added them. */
const ADDED: Readonly<Record<number, readonly string[]>> = {
  2: ['dns_rcode'],
  4: ['attempt', 'first_attempt_id', 'retry_after_honoured', 'summary'],
};

export interface LegacySchema {
  /** The tables and indexes (the trace index as today's: schema 2 tests replace it). */
  schema: string;
  insertSql: string;
  /** The insert's parameters for a record, stored as JSON text as that version did. */
  row(record: CallRecord, storedNs?: bigint): SQLInputValue[];
}

export function legacySchema(version: number): LegacySchema {
  const missing = new Set(Object.entries(ADDED).flatMap(([v, columns]) => (Number(v) > version ? columns : [])));
  let schema = CALLS_SCHEMA.replace('record BLOB NOT NULL', 'record TEXT NOT NULL');
  for (const name of missing) {
    const without = schema.replace(new RegExp(`,\\n\\s*${name} [A-Z]+`), '');
    if (without === schema) throw new Error(`no column ${name} in CALLS_SCHEMA`);
    schema = without;
  }
  const kept = RECORD_COLUMNS.map((c, i) => ({ name: c.name, i })).filter((c) => !missing.has(c.name));
  const insertSql = `INSERT OR IGNORE INTO calls (stored_ns, ${kept.map((c) => c.name).join(', ')}, record) VALUES (?, ${kept.map(() => '?').join(', ')}, ?)`;
  return {
    schema,
    insertSql,
    row(record, storedNs = 0n) {
      const all = callsRow(record, storedNs, recordJsonString(record));
      return [all[0], ...kept.map((c) => all[1 + c.i]), all[all.length - 1]];
    },
  };
}
