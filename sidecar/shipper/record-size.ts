import type { CallRecord, Endpoint, HttpMessage } from '../../record/record.ts';

/**
 * Fixed cost of a record besides its variable parts: ids, times, numbers, endpoints' fixed
 * fields and protobuf framing. Deliberately generous: the queue bound is about memory held,
 * and an underestimate would let the queue hold more than it says.
 */
export const RECORD_OVERHEAD_BYTES = 512;
const PER_ENTRY_BYTES = 8;

function mapBytes(map: Record<string, string> | undefined): number {
  if (map === undefined) return 0;
  let n = 0;
  for (const key in map) n += key.length + map[key].length + PER_ENTRY_BYTES;
  return n;
}

function messageBytes(m: HttpMessage | undefined): number {
  if (m === undefined) return 0;
  return 32 + m.body.byteLength + mapBytes(m.headers) + mapBytes(m.trailers);
}

function endpointBytes(e: Endpoint): number {
  return (e.identity?.length ?? 0) + (e.pod?.length ?? 0) + (e.workload?.length ?? 0) + mapBytes(e.labels);
}

/**
 * A cheap upper-ish estimate of a record's size in memory and on the wire: body lengths,
 * header names and values, the longer strings, plus a fixed overhead. String lengths are
 * UTF-16 units, which is the byte count for the ASCII that headers and paths mostly are.
 */
export function estimateRecordBytes(r: CallRecord): number {
  let n = RECORD_OVERHEAD_BYTES + r.id.length + r.connection_id.length;
  n += (r.path?.length ?? 0) + (r.authority?.length ?? 0) + (r.error_detail?.length ?? 0);
  n += endpointBytes(r.src) + endpointBytes(r.dst);
  n += messageBytes(r.request) + messageBytes(r.response);
  for (const s of r.redacted) n += s.length + PER_ENTRY_BYTES;
  for (const s of r.sensitive) n += s.length + PER_ENTRY_BYTES;
  if (r.notes !== undefined) for (const s of r.notes) n += s.length + PER_ENTRY_BYTES;
  return n;
}
