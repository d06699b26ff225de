/**
 * What one statement's execution returned, gathered message by message and turned into the
 * record's response. Rows are kept to a row limit and a byte limit (the body limit) while every
 * row is counted, so a `SELECT` of a million rows costs the capture a hundred rows of memory.
 */
import type { HttpMessage } from '../../record/record.ts';
import type { SensitiveKind } from '../mask/policy.ts';
import { maskResultRows } from '../mask/sql-result-columns.ts';
import { type Column, type DataRowContent, type PgValue, formatAt, hexValue, utf8Prefix } from './decode.ts';
import { SkippedNote } from '../capture/skipped-note.ts';

export interface PgError {
  fields: Record<string, string>;
  severity: string;
  sqlstate: string;
  message: string;
  /** `ERROR 42P01: relation "nope" does not exist` */
  detail: string;
}

export function toPgError(fields: Record<string, string>): PgError {
  const severity = fields.V ?? fields.S ?? 'ERROR';
  const sqlstate = fields.C ?? '';
  const message = fields.M ?? '';
  return { fields, severity, sqlstate, message, detail: `${severity}${sqlstate ? ` ${sqlstate}` : ''}: ${message}` };
}

/** Error and notice fields under readable names (the protocol's one-letter codes otherwise). */
const FIELD_NAMES: Record<string, string> = {
  S: 'severity_localized',
  V: 'severity',
  C: 'sqlstate',
  M: 'message',
  D: 'detail',
  H: 'hint',
  P: 'position',
  p: 'internal_position',
  q: 'internal_query',
  W: 'where',
  s: 'schema',
  t: 'table',
  c: 'column',
  d: 'data_type',
  n: 'constraint',
  F: 'file',
  L: 'line',
  R: 'routine',
};

export function namedFields(fields: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(fields)) out[FIELD_NAMES[k] ?? `field_${k}`] = v;
  return out;
}

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
  /** Client bytes that belong to this statement alone (COPY FROM STDIN data). */
  bytesOut = 0;
  columns: Column[] | undefined;
  /** Keys of the row objects: column names, made unique. */
  private keys: string[] = [];
  /** Result format codes from Bind (extended protocol), which override the described formats. */
  resultFormats: number[] | undefined;
  rows: Array<Record<string, PgValue>> = [];
  rowsSeen = 0;
  private rowBytes = 0;
  rowsCut = false;
  tag: string | undefined;
  /** EmptyQueryResponse. */
  empty = false;
  /** PortalSuspended: Execute's row limit reached. */
  suspended = false;
  error: PgError | undefined;
  notes: string[] = [];
  /** DataRows and CopyData messages with bytes not captured, summed into one note (`noteSkipped`). */
  private skipped: SkippedNote | undefined;
  copy: { direction: 'in' | 'out' | 'both'; messages: number; bytes: number } | undefined;
  private readonly limits: ResultLimits;

  constructor(limits: ResultLimits) {
    this.limits = limits;
  }

  get done(): boolean {
    return this.tag !== undefined || this.empty || this.suspended || this.error !== undefined;
  }

  setColumns(cols: Column[]): void {
    this.columns = cols;
    const seen = new Map<string, number>();
    this.keys = cols.map((c) => {
      const k = seen.get(c.name) ?? 0;
      seen.set(c.name, k + 1);
      return k === 0 ? c.name : `${c.name}_${k + 1}`;
    });
  }

  /** How many bytes of the next DataRow are worth keeping. */
  rowKeep(size: number): number {
    if (this.rowsCut || this.rows.length >= this.limits.maxRows) return 0;
    const room = this.limits.maxBodyBytes - ENVELOPE_RESERVE - this.rowBytes;
    if (room <= 0) return 0;
    // Hex doubles binary values; keep up to the room either way and let the JSON decide.
    return Math.min(size, this.limits.maxBodyBytes);
  }

  /** A DataRow: `row` undefined when none of it was kept. */
  addRow(row: DataRowContent | undefined, wasCut: boolean): void {
    this.rowsSeen++;
    if (row === undefined || this.rowsCut || this.rows.length >= this.limits.maxRows) {
      if (this.rowsSeen > this.rows.length) this.rowsCut = true;
      return;
    }
    const obj: Record<string, PgValue> = {};
    const cut = row.truncated || wasCut;
    row.values.forEach((v, i) => {
      const key = this.keys[i] ?? `$${i + 1}`;
      if (v === null) obj[key] = null;
      else {
        const binary = formatAt(this.resultFormats ?? this.columns?.map((c) => c.format) ?? [], i) === 1;
        const last = i === row.values.length - 1;
        obj[key] = binary ? hexValue(v) : utf8Prefix(v, cut && last);
      }
    });
    const size = Buffer.byteLength(JSON.stringify(obj)) + 1;
    if (this.rowBytes + size > this.limits.maxBodyBytes - ENVELOPE_RESERVE) {
      this.rowsCut = true;
      return;
    }
    if (cut) {
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

  /**
   * A DataRow or CopyData message of which `bytes` passed unseen (capture fell behind
   * forwarding): one note for the result sums them, however many rows a gap took.
   */
  noteSkipped(where: 'request.body' | 'response.body', what: 'row' | 'CopyData message', bytes: number): void {
    this.skipped ??= new SkippedNote(where, what);
    this.skipped.add(this.notes, bytes);
  }

  /** The true row count: the command tag's when it has one, else the DataRows seen. */
  rowCount(tagCount: number | undefined): number {
    return tagCount ?? this.rowsSeen;
  }

  toResponse(tagCount: number | undefined): HttpMessage {
    const headers: Record<string, string> = {};
    const body: Record<string, unknown> = {};
    const count = this.rowCount(tagCount);
    if (this.tag !== undefined) {
      headers.tag = this.tag;
      headers.rows = String(count);
    } else if (this.rowsSeen > 0) headers.rows = String(count);
    if (this.error !== undefined) {
      headers.severity = this.error.severity;
      headers.sqlstate = this.error.sqlstate;
      headers.message = this.error.message;
    }
    if (this.columns !== undefined) body.columns = this.columns.map((c) => c.name);
    if (this.columns !== undefined || this.rowsSeen > 0) body.rows = this.rows;
    if (this.tag !== undefined || this.rowsSeen > 0) body.row_count = count;
    if (this.tag !== undefined) body.command = this.tag;
    if (this.empty) body.empty = true;
    if (this.suspended) body.suspended = true;
    if (this.error !== undefined) body.error = namedFields(this.error.fields);
    if (this.rowsCut) body.truncated = true;
    const json = Buffer.from(JSON.stringify(body));
    const text = json.length > this.limits.maxBodyBytes ? Buffer.from(utf8Prefix(json.subarray(0, this.limits.maxBodyBytes), true)) : json;
    return {
      headers,
      body: text,
      body_size: this.bytesIn,
      truncated: this.rowsCut || text.length < json.length,
      content_type: 'application/json',
    };
  }
}
