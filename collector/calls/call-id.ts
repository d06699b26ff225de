/**
 * The two kinds of id `GET /api/calls/:id` answers. A record id names one observation, as its
 * sidecar gave it: `<connection_id>-o<ordinal>` (the client's) or `<connection_id>-i<ordinal>`
 * (the server's). A call id names the exchange both observe, as `view=call` gives it:
 * `<connection_id>:<ordinal>` (`callKey`), or `<connection_id>:<ordinal>#<record id>` for a record
 * that clashed with an earlier one of the same side. A call is found from its records, by the
 * ids their sidecars give them, exactly as `view=call` finds a missing partner. Pure: the
 * records come from an injected lookup.
 */
import type { CallRecordJson } from '../../record/record-json.ts';
import { buildCall, callKey, isPartner, partnerId, sideOf, type JoinedCall } from './join.ts';

export interface CallIdParts {
  connectionId: string;
  ordinal: number;
  /** The record a clashing call (`…#<record id>`) holds alone. */
  clashing?: string;
}

/** What an id looks like, for a message about one that names nothing. */
export const ID_FORMS =
  'an id is a record id (<connection id>-o<n> for the client\'s observation, <connection id>-i<n> for the server\'s) or a call id (<connection id>:<n>, as view=call gives it)';

/** The parts of a call id, or undefined when `id` is not one. */
export function parseCallId(id: string): CallIdParts | undefined {
  const hash = id.indexOf('#');
  const key = hash === -1 ? id : id.slice(0, hash);
  const clashing = hash === -1 ? undefined : id.slice(hash + 1);
  const m = /^(.+):(0|[1-9]\d{0,9})$/.exec(key);
  if (m === null || clashing === '') return undefined;
  const ordinal = Number(m[2]);
  if (ordinal > 0xffff_ffff) return undefined;
  return { connectionId: m[1], ordinal, ...(clashing !== undefined ? { clashing } : {}) };
}

/** Whether `id` has a record id's shape (`…-o<n>` or `…-i<n>`). */
export function looksLikeRecordId(id: string): boolean {
  return /^.+-[oi](0|[1-9]\d*)$/.test(id);
}

/** The record ids a call is looked up by: the client's and the server's, or the clashing record alone. */
export function recordIdsOf(parts: CallIdParts): string[] {
  if (parts.clashing !== undefined) return [parts.clashing];
  return [`${parts.connectionId}-o${parts.ordinal}`, `${parts.connectionId}-i${parts.ordinal}`];
}

/**
 * The call `id` names, from whichever of its records `lookup` finds (one side only is marked
 * `one_sided`, as in `view=call`), or undefined when it finds neither; a record that is not an
 * observation of that exchange is not taken.
 */
export async function findCall(id: string, parts: CallIdParts, lookup: (recordId: string) => Promise<CallRecordJson | undefined>): Promise<JoinedCall | undefined> {
  const key = `${parts.connectionId}:${parts.ordinal}`;
  const records = await Promise.all(recordIdsOf(parts).map((recordId) => lookup(recordId)));
  let client: CallRecordJson | undefined;
  let server: CallRecordJson | undefined;
  records.forEach((r, i) => {
    if (r === undefined || callKey(r) !== key) return;
    // The plain form's ids are the client's then the server's: each must be that side's.
    if (parts.clashing === undefined && sideOf(r) !== (i === 0 ? 'client' : 'server')) return;
    if (sideOf(r) === 'client') client = r;
    else server = r;
  });
  return client === undefined && server === undefined ? undefined : buildCall(id, client, server);
}

/** The call a record belongs to: the record and, when `lookup` finds it, its partner. */
export async function callOfRecord(record: CallRecordJson, lookup: (recordId: string) => Promise<CallRecordJson | undefined>): Promise<JoinedCall> {
  const found = await lookup(partnerId(record));
  const partner = found !== undefined && isPartner(record, found) ? found : undefined;
  return record.observer === 'outbound' ? buildCall(callKey(record), record, partner) : buildCall(callKey(record), partner, record);
}

const quoted = (ids: readonly string[]): string[] => ids.map((id) => JSON.stringify(id));

/** The 404 for an id that is not a call id and names no record (that the viewer may see). */
export function unknownIdMessage(id: string): string {
  return `no call with id ${JSON.stringify(id)}${looksLikeRecordId(id) ? '' : `: ${ID_FORMS}`}`;
}

/** The 404 for a call id none of whose records is found: which record ids were looked for. */
export function missingCallMessage(id: string, parts: CallIdParts): string {
  const ids = quoted(recordIdsOf(parts));
  const tried = ids.length === 1 ? `its record ${ids[0]}, found none` : `its records ${ids[0]} (the client's) and ${ids[1]} (the server's), found neither`;
  return `no call with id ${JSON.stringify(id)}: looked for ${tried}`;
}

/** The 400 for `view=record` with a call id: the record ids to ask for instead. */
export function callIdAsRecordMessage(id: string, parts: CallIdParts): string {
  const ids = quoted(recordIdsOf(parts));
  return `view=record takes a record id: ${JSON.stringify(id)} is a call id (${ids.length === 1 ? `its record is ${ids[0]}` : `its records are ${ids.join(' and ')}`})`;
}
