// The rows of the call list: one per call (the client sidecar's and the server sidecar's
// records of one exchange share `connection_id` and `ordinal`, as collector/calls/join.ts joins
// them), or one per observation (record). Pure: the feed keeps records, the table asks for rows.

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
 * The CEL filter that finds both records of `r`'s call.
 * @param {CallJson} r
 */
export const callFilter = (r) => `connection_id == ${JSON.stringify(r.connection_id ?? '')} && ordinal == ${Number(r.ordinal ?? 0)}`;
