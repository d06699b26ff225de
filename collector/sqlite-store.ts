/**
 * A RecordStore in SQLite (`node:sqlite`, built into Node: no native build). Rows keep the
 * record's JSON form; `seq` gives arrival order (newest first = highest seq), `start` serves
 * `since`. The newest `maxRecords` rows are kept (older ones are deleted as new ones arrive).
 */
import { DatabaseSync } from 'node:sqlite';
import { MeshtapError } from '../lib/errors.ts';
import type { CallRecord } from '../sidecar/record.ts';
import { COL_ERR_STORE } from './errors.ts';
import { recordFromJson, recordToJson, type CallRecordJson } from './record-json.ts';
import type { AddResult, ListQuery, RecordStore } from './record-store.ts';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS calls (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  start INTEGER NOT NULL,
  record TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS calls_start ON calls (start);
`;


export function createSqliteStore(options: { path: string; maxRecords: number }): RecordStore {
  let db: DatabaseSync;
  try {
    db = new DatabaseSync(options.path);
    db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;');
    db.exec(SCHEMA);
  } catch (err) {
    throw new MeshtapError(COL_ERR_STORE, `cannot open SQLite store ${options.path}: ${(err as Error).message}`, { cause: err });
  }
  const insert = db.prepare('INSERT OR IGNORE INTO calls (id, start, record) VALUES (?, ?, ?)');
  const trim = db.prepare('DELETE FROM calls WHERE seq < (SELECT seq FROM calls ORDER BY seq DESC LIMIT 1 OFFSET ?)');
  const listAll = db.prepare('SELECT record FROM calls ORDER BY seq DESC LIMIT ?');
  const listSince = db.prepare('SELECT record FROM calls WHERE start >= ? ORDER BY seq DESC LIMIT ?');
  const byId = db.prepare('SELECT record FROM calls WHERE id = ?');
  const countRows = db.prepare('SELECT COUNT(*) AS n FROM calls');
  const parse = (row: unknown): CallRecord => recordFromJson(JSON.parse((row as { record: string }).record) as CallRecordJson);

  return {
    async add(records): Promise<AddResult> {
      let stored = 0;
      db.exec('BEGIN');
      try {
        for (const record of records) {
          const { changes } = insert.run(record.id, record.start, JSON.stringify(recordToJson(record)));
          stored += Number(changes);
        }
        if (stored > 0) trim.run(options.maxRecords - 1);
        db.exec('COMMIT');
      } catch (err) {
        db.exec('ROLLBACK');
        throw new MeshtapError(COL_ERR_STORE, `SQLite insert failed: ${(err as Error).message}`, { cause: err });
      }
      return { stored, duplicates: records.length - stored };
    },
    async list(query: ListQuery) {
      const rows = query.since === undefined ? listAll.all(query.limit) : listSince.all(query.since, query.limit);
      return rows.map(parse);
    },
    async get(id) {
      const row = byId.get(id);
      return row === undefined ? undefined : parse(row);
    },
    async count() {
      return Number((countRows.get() as { n: number }).n);
    },
    async close() {
      if (db.isOpen) db.close();
    },
  };
}
