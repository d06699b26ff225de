/**
 * What one statement's execution returned (a result set, an OK or an ERR), gathered packet by
 * packet and turned into the record's response. Rows are kept to a row limit and a byte limit
 * (the body limit) while every row is counted, so a million-row SELECT costs the capture a
 * hundred rows of memory.
 */
import type { HttpMessage } from '../../record/record.ts';
import type { SensitiveKind } from '../mask/policy.ts';
import { maskResultRows } from '../mask/sql-result-columns.ts';
import { utf8Prefix } from './packets.ts';
import type { OkReply, ServerError } from './replies.ts';
import type { Column, DecodedRow, Value } from './values.ts';
import { SkippedNote } from '../capture/skipped-note.ts';

export interface ResultLimits {
  maxRows: number;
  maxBodyBytes: number;
}

/** Room left for `columns`, `row_count` and `command` around the rows. */
const ENVELOPE_RESERVE = 256;

export class StatementResult {
  responseStart: bigint | undefined;
  end: bigint | undefined;
  bytesIn = 0;
  /** Announced by the column-count packet: a result set. */
  columnCount: number | undefined;
  columns: Column[] = [];
  private keys: string[] = [];
  rows: Array<Record<string, Value>> = [];
  rowsSeen = 0;
  private rowBytes = 0;
  rowsCut = false;
  ok: OkReply | undefined;
  error: ServerError | undefined;
  warnings = 0;
  /** A plain reply that is neither OK nor ERR (COM_STATISTICS). */
  text: string | undefined;
  notes: string[] = [];
  /** Rows with bytes not captured, summed into one note. */
  private skippedRows: SkippedNote | undefined;
  done = false;
  private readonly limits: ResultLimits;

  constructor(limits: ResultLimits) {
    this.limits = limits;
  }

  addColumn(col: Column): void {
    this.columns.push(col);
    this.setKeys();
  }

  setColumns(cols: Column[]): void {
    this.columns = cols.slice();
    this.setKeys();
  }

  private setKeys(): void {
    const seen = new Map<string, number>();
    this.keys = this.columns.map((c) => {
      const k = seen.get(c.name) ?? 0;
      seen.set(c.name, k + 1);
      return k === 0 ? c.name : `${c.name}_${k + 1}`;
    });
  }

  /** How many bytes of the next row packet are worth keeping. */
  rowKeep(size: number): number {
    if (this.rowsCut || this.rows.length >= this.limits.maxRows) return 0;
    const room = this.limits.maxBodyBytes - ENVELOPE_RESERVE - this.rowBytes;
    if (room <= 0) return 0;
    return Math.min(size, this.limits.maxBodyBytes);
  }

  /** A row: `row` undefined when none of it was kept. */
  addRow(row: DecodedRow | undefined): void {
    this.rowsSeen++;
    if (row === undefined || this.rowsCut || this.rows.length >= this.limits.maxRows) {
      this.rowsCut = true;
      return;
    }
    const obj: Record<string, Value> = {};
    row.values.forEach((v, i) => {
      obj[this.keys[i] ?? `$${i + 1}`] = v;
    });
    const size = Buffer.byteLength(JSON.stringify(obj)) + 1;
    if (this.rowBytes + size > this.limits.maxBodyBytes - ENVELOPE_RESERVE) {
      this.rowsCut = true;
      return;
    }
    if (row.truncated) {
      this.rowsCut = true;
      this.notes.push(`row ${this.rowsSeen}: value cut at the body limit`);
    }
    this.rowBytes += size;
    this.rows.push(obj);
  }

  /**
   * The values of the given columns (by index) replaced by `****` in the rows kept: a secret read
   * under another name (`SELECT password AS pw`). Rows the longer values no longer fit in the
   * body limit are dropped, as `addRow` drops them. The paths replaced and the kinds.
   */
  maskColumns(columns: ReadonlyMap<number, SensitiveKind>): { redacted: string[]; sensitive: SensitiveKind[] } {
    const masked = maskResultRows(this.rows, this.keys, columns, this.limits.maxBodyBytes - ENVELOPE_RESERVE);
    if (masked.bytes !== undefined) this.rowBytes = masked.bytes;
    if (masked.cut) this.rowsCut = true;
    return masked;
  }

  /** A row of which `bytes` passed unseen (capture fell behind forwarding). */
  noteSkippedRow(bytes: number): void {
    this.skippedRows ??= new SkippedNote('response.body', 'row');
    this.skippedRows.add(this.notes, bytes);
  }

  get isResultSet(): boolean {
    return this.columnCount !== undefined;
  }

  toResponse(command: string | undefined): HttpMessage {
    const headers: Record<string, string> = {};
    const body: Record<string, unknown> = {};
    if (this.isResultSet) {
      headers.rows = String(this.rowsSeen);
      body.columns = this.columns.map((c) => c.name);
      body.rows = this.rows;
      body.row_count = this.rowsSeen;
    } else if (this.ok !== undefined) {
      headers.rows = String(this.ok.affectedRows);
      headers.affected_rows = String(this.ok.affectedRows);
      headers.last_insert_id = String(this.ok.lastInsertId);
      body.row_count = this.ok.affectedRows;
      body.affected_rows = this.ok.affectedRows;
      body.last_insert_id = this.ok.lastInsertId;
      if (this.ok.info !== undefined) {
        headers.info = this.ok.info;
        body.info = this.ok.info;
      }
    }
    const warnings = this.ok?.warnings ?? this.warnings;
    if (warnings > 0) {
      headers.warnings = String(warnings);
      body.warnings = warnings;
    }
    if (command !== undefined && (this.isResultSet || this.ok !== undefined)) body.command = command;
    if (this.error !== undefined) {
      headers.code = String(this.error.code);
      headers.sqlstate = this.error.sqlstate;
      headers.message = this.error.message;
      body.error = { code: this.error.code, sqlstate: this.error.sqlstate, message: this.error.message };
    }
    if (this.rowsCut) body.truncated = true;
    if (this.text !== undefined && !this.isResultSet && this.ok === undefined && this.error === undefined) {
      const raw = Buffer.from(this.text);
      const cut = raw.length > this.limits.maxBodyBytes;
      const b = cut ? Buffer.from(utf8Prefix(raw.subarray(0, this.limits.maxBodyBytes), true)) : raw;
      return { headers, body: b, body_size: this.bytesIn, truncated: cut, content_type: 'text/plain' };
    }
    const json = Buffer.from(JSON.stringify(body));
    const text = json.length > this.limits.maxBodyBytes ? Buffer.from(utf8Prefix(json.subarray(0, this.limits.maxBodyBytes), true)) : json;
    return { headers, body: text, body_size: this.bytesIn, truncated: this.rowsCut || text.length < json.length, content_type: 'application/json' };
  }
}
