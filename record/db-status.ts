/**
 * A database call's own status code, for spans (`db.response.status_code`) and Loki metadata:
 * the SQLSTATE the PostgreSQL or MySQL capture put in the response headers, or the prefix of a
 * Redis error reply (`WRONGTYPE`, `ERR`).
 */
import type { CallRecord } from './record.ts';

export function dbStatusCode(record: Pick<CallRecord, 'protocol' | 'error' | 'error_detail' | 'response'>): string | undefined {
  const sqlstate = record.response?.headers.sqlstate;
  if (sqlstate !== undefined) return sqlstate;
  if (record.protocol === 'redis' && record.error === 'server_error') return /^[A-Z]+/.exec(record.error_detail ?? '')?.[0];
  return undefined;
}
