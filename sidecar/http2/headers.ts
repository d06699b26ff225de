/**
 * A decoded HTTP/2 header list as the record wants it: pseudo-headers (`:method`, `:status`, …)
 * apart, regular fields as a record with lower-case names and repeated fields joined like
 * HTTP/1 (", ", set-cookie with "\n"). Cookie is the exception: HTTP/2 lets a client split it
 * into one field per crumb, and RFC 9113 §8.2.3 joins them back with "; ".
 */
import { buildHeaderRecord } from '../http1/headers.ts';
import type { HeaderField } from './hpack.ts';

export interface SplitHeaders {
  pseudo: Record<string, string>;
  headers: Record<string, string>;
}

export function splitHeaderList(fields: readonly HeaderField[]): SplitHeaders {
  const pseudo: Record<string, string> = {};
  const regular: Array<[string, string]> = [];
  const cookies: string[] = [];
  for (const [name, value] of fields) {
    if (name.startsWith(':')) {
      // The first of a repeated pseudo-header wins (a repeat is malformed anyway).
      if (!Object.hasOwn(pseudo, name)) Object.defineProperty(pseudo, name, { value, enumerable: true, writable: true, configurable: true });
    } else if (name.toLowerCase() === 'cookie') {
      cookies.push(value);
    } else {
      regular.push([name, value]);
    }
  }
  const headers = buildHeaderRecord(regular);
  if (cookies.length > 0) headers.cookie = cookies.join('; ');
  return { pseudo, headers };
}
