/** Opening the store's schema: create or check its version, add or drop the full-text index. */
import type { DatabaseSync } from 'node:sqlite';
import { MeshtapError } from '../../lib/errors.ts';
import { COL_ERR_STORE } from '../errors.ts';
import { CALLS_SCHEMA, FTS_DROP, FTS_SCHEMA, SCHEMA_VERSION, STORED_RECORD_MIGRATION, TRACE_INDEX_MIGRATION } from './calls-schema.ts';

/**
 * One step per schema version: `MIGRATIONS[n]` takes a database from version n to n + 1. A step
 * adds what `CALLS_SCHEMA` would have created and, for a column filters are pushed down to,
 * fills it from the stored record JSON, so those filters agree with the in-memory evaluation on
 * old rows too.
 */
const MIGRATIONS: Readonly<Record<number, string>> = {
  // 1 → 2: `dns_rcode`, the response code of DNS records.
  1: `ALTER TABLE calls ADD COLUMN dns_rcode TEXT;
UPDATE calls SET dns_rcode = json_extract(record, '$.dns_rcode') WHERE protocol = 'dns' AND json_valid(record);`,
  // 2 → 3: the trace index keyed by the last characters of the trace id (smaller entries, cheaper inserts).
  2: TRACE_INDEX_MIGRATION,
  // 3 → 4: new rows keep their record as protobuf; the columns of what the wire message lacks.
  3: STORED_RECORD_MIGRATION,
};

function inTransaction<T>(db: DatabaseSync, work: () => T): T {
  db.exec('BEGIN');
  try {
    const result = work();
    db.exec('COMMIT');
    return result;
  } catch (err) {
    db.exec('ROLLBACK');
    throw err;
  }
}

/** Opens the schema, creates it or migrates an older one; refuses an unversioned foreign database or a newer schema. */
export function migrate(db: DatabaseSync, path: string): void {
  const version = Number((db.prepare('PRAGMA user_version').get() as { user_version: number }).user_version);
  if (version > SCHEMA_VERSION) {
    throw new MeshtapError(
      COL_ERR_STORE,
      `SQLite store ${path} has schema version ${version}, newer than this collector understands (${SCHEMA_VERSION}); run a newer meshtap or point the collector at another database`,
    );
  }
  if (version === SCHEMA_VERSION) return;
  if (version > 0) {
    inTransaction(db, () => {
      for (let v = version; v < SCHEMA_VERSION; v++) {
        const step = MIGRATIONS[v];
        if (step === undefined) throw new MeshtapError(COL_ERR_STORE, `SQLite store ${path}: no migration from schema version ${v} to ${v + 1}`);
        db.exec(step);
      }
      db.exec(`PRAGMA user_version = ${SCHEMA_VERSION}`);
    });
    return;
  }
  const tables = db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'").all();
  if (tables.length > 0) {
    throw new MeshtapError(
      COL_ERR_STORE,
      `SQLite store ${path} is not a meshtap collector database of a known version (user_version 0 with tables ${tables.map((t) => (t as { name: string }).name).join(', ')}); point the collector at another database`,
    );
  }
  inTransaction(db, () => {
    db.exec(CALLS_SCHEMA);
    db.exec(`PRAGMA user_version = ${SCHEMA_VERSION}`);
  });
}

/**
 * Creates or drops the full-text index to match `enabled`. Returns the first seq the index
 * covers (rows stored while it was off are never in it, so searches must still read them), or
 * undefined when there is no index (off, or a SQLite without FTS5).
 */
export function configureFullText(db: DatabaseSync, enabled: boolean): bigint | undefined {
  const exists = db.prepare("SELECT 1 FROM sqlite_schema WHERE name = 'calls_fts'").get() !== undefined;
  const readFrom = (): bigint => BigInt((db.prepare("SELECT value FROM store_meta WHERE key = 'fts_from_seq'").get() as { value: string } | undefined)?.value ?? '0');
  if (enabled && exists) {
    if (db.prepare("SELECT 1 FROM sqlite_schema WHERE name = 'calls_fts_docs'").get() === undefined) {
      // An index of one document per row, kept up by a delete trigger: list each row as its own
      // document, and let retention prune documents instead of the trigger.
      inTransaction(db, () => {
        db.exec('DROP TRIGGER IF EXISTS calls_fts_delete; CREATE TABLE calls_fts_docs (first_seq INTEGER PRIMARY KEY);');
        db.prepare('INSERT INTO calls_fts_docs (first_seq) SELECT seq FROM calls WHERE seq >= ?').run(readFrom());
      });
    }
    return readFrom();
  }
  if (!enabled && !exists) return undefined;
  return inTransaction(db, () => {
    if (!enabled) {
      db.exec(`${FTS_DROP} DELETE FROM store_meta WHERE key = 'fts_from_seq';`);
      return undefined;
    }
    try {
      db.exec(FTS_SCHEMA);
    } catch (err) {
      // Only a SQLite built without FTS5 gets here; body filters then scan.
      if (!/no such module: fts5/.test((err as Error).message)) throw err;
      return undefined;
    }
    const next = db.prepare("SELECT COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'calls'), 0) + 1 AS next").get() as { next: number };
    const from = BigInt(next.next);
    db.prepare("INSERT OR REPLACE INTO store_meta (key, value) VALUES ('fts_from_seq', ?)").run(from.toString());
    return from;
  });
}
