// The rows of the call list: one per call (the client sidecar's and the server sidecar's
// records of one exchange share `connection_id` and `ordinal`, as collector/calls/join.ts joins
// them), or one per observation (record). Pure: the feed keeps records, the table asks for rows.
import { statusText } from './format.js';

/**
 * @typedef {import('./types.js').CallJson} CallJson
 * @typedef {'calls' | 'records'} RowMode
 * @typedef {{ key: string, call: CallJson, client?: CallJson, server?: CallJson, oneSided?: 'client' | 'server' }} Row
 *   `call`: the record the row shows and opens (the client's when there is one); `oneSided`: set
 *   in call mode when only one side's record is in the list
 */

/** @param {CallJson} r */
export const callKey = (r) => `${r.connection_id ?? r.id}:${r.ordinal ?? 0}`;

/** @param {CallJson} r */
const sideOf = (r) => (r.observer === 'inbound' ? 'server' : 'client');

/**
 * The record id the other side's sidecar gives the same exchange (`<connection_id>-o|i<ordinal>`).
 * @param {CallJson} r
 */
export const partnerId = (r) => `${r.connection_id}-${r.observer === 'inbound' ? 'o' : 'i'}${r.ordinal}`;

/**
 * @param {CallJson[]} records newest first
 * @param {RowMode} mode
 * @returns {Row[]} newest first: a call sits where its newest record is
 */
export function buildRows(records, mode) {
  if (mode === 'records') return records.map((r) => ({ key: r.id, call: r }));
  /** @type {Map<string, Row>} */
  const byKey = new Map();
  /** @type {Row[]} */
  const rows = [];
  for (const r of records) {
    const key = callKey(r);
    const side = sideOf(r);
    let row = byKey.get(key);
    // A second record of the same side under the same key (no sidecar sends one) is a row of its own.
    if (row !== undefined && row[side] !== undefined) row = undefined;
    if (row === undefined) {
      row = { key: byKey.has(key) ? `${key}#${r.id}` : key, call: r };
      if (!byKey.has(key)) byKey.set(key, row);
      rows.push(row);
    }
    row[side] = r;
    row.call = row.client ?? r;
  }
  for (const row of rows) {
    if (row.client === undefined || row.server === undefined) row.oneSided = row.client !== undefined ? 'client' : 'server';
  }
  return rows;
}

/**
 * Whether the row shows what `id` (the open call's, from the URL) opens: a record id names its
 * record's row; a call id (`view=call`'s, as the detail copies it) names the call's row, or in
 * one row per observation the rows of its records.
 * @param {Row} row
 * @param {string} id
 */
export function rowHolds(row, id) {
  if (row.client === undefined && row.server === undefined) {
    const r = row.call;
    return r.id === id || callKey(r) === id || `${callKey(r)}#${r.id}` === id;
  }
  return row.key === id || row.client?.id === id || row.server?.id === id;
}

/**
 * The CEL filter that finds both records of `r`'s call.
 * @param {CallJson} r
 */
export const callFilter = (r) => `connection_id == ${JSON.stringify(r.connection_id ?? '')} && ordinal == ${Number(r.ordinal ?? 0)}`;

/** The Status cell around its pill's text: the pill's padding (8 px a side) and the cell's (8 px a side). */
const STATUS_PILL_PADDING = 16;
const STATUS_CELL_PADDING = 16;
/** The pill's own minimum width (app.css `.status-pill`). */
const STATUS_PILL_MIN = 40;
/** Room for the column's title, "Status". */
const STATUS_COLUMN_MIN = 64;
/** A 12 px monospace character, where nothing can measure (Node). */
const MONO_CHAR_PX = 7.3;

/**
 * How wide the Status column must be for every status among `rows` to show in full (`200`,
 * `200 UNAVAILABLE`, `upstream_unreachable`): as wide as its widest pill, and no wider.
 * @param {Row[]} rows
 * @param {(text: string) => number | undefined} measure the drawn width of a pill's text
 * @returns {number} px
 */
export function statusColumnWidth(rows, measure) {
  const texts = new Set();
  for (const row of rows) texts.add(statusText(row.call));
  let widest = 0;
  for (const text of texts) widest = Math.max(widest, measure(text) ?? text.length * MONO_CHAR_PX);
  return Math.ceil(Math.max(STATUS_COLUMN_MIN, Math.max(STATUS_PILL_MIN, widest + STATUS_PILL_PADDING) + STATUS_CELL_PADDING));
}
