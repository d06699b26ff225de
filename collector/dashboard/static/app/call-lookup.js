// What opening an id in the call detail shows. `GET /api/calls/:id` takes either kind of id: a
// record id answers that record; a call id (`<connection_id>:<ordinal>`, as `view=call` and the
// detail's own "call" line give it) answers the joined call, whose `client` and `server` are the
// records. Either opens the same view: a call opens on its client's observation when there is
// one, as its row in the list does. Pure: no DOM, no fetch.
import { callKey } from './call-rows.js';

/**
 * @typedef {import('./types.js').CallJson} CallJson
 * @typedef {import('./call-detail.js').JoinedJson} JoinedJson
 * @typedef {{ record: CallJson, joined?: JoinedJson }} Opened
 *   `record`: the observation the detail opens on; `joined`: the call, when the answer was one
 *   (a record's call is looked up afterwards)
 */

/** @param {unknown} v @returns {v is Record<string, any>} */
const isObject = (v) => typeof v === 'object' && v !== null && !Array.isArray(v);

/** @param {unknown} v */
const isRecord = (v) => isObject(v) && typeof v.id === 'string';

/**
 * Whether `value` is a joined call rather than one sidecar's record: a record always says which
 * sidecar observed it, a call holds the observations instead.
 * @param {unknown} value
 */
export const isJoinedCall = (value) => isObject(value) && value.observer === undefined && (isRecord(value.client) || isRecord(value.server));

/**
 * What the detail shows for the `call` of `GET /api/calls/:id`'s answer; undefined when it is
 * neither a record nor a call.
 * @param {unknown} answer
 * @returns {Opened | undefined}
 */
export function openedFrom(answer) {
  if (isJoinedCall(answer)) {
    const joined = /** @type {JoinedJson} */ (answer);
    return { record: /** @type {CallJson} */ (joined.client ?? joined.server), joined };
  }
  return isRecord(answer) ? { record: /** @type {CallJson} */ (answer) } : undefined;
}

/**
 * The record among `records` (the list's) that opening `id` shows first, before the collector
 * answers: the record of that id; for a call id, the call's client record, else its server
 * record; for a clashing call's id (`<connection_id>:<ordinal>#<record id>`), that record.
 * @param {CallJson[]} records
 * @param {string} id
 * @returns {CallJson | undefined}
 */
export function openedRecord(records, id) {
  const byId = records.find((r) => r.id === id || `${callKey(r)}#${r.id}` === id);
  if (byId !== undefined) return byId;
  const mine = records.filter((r) => callKey(r) === id);
  return mine.find((r) => r.observer !== 'inbound') ?? mine[0];
}
