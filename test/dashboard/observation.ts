/** Call records for the dashboard's browser tests: an HTTP POST /charge from web to pay a minute ago. */
import type { CallRecord, Endpoint } from '../../record/record.ts';

const now = BigInt(Date.now()) * 1_000_000n;
const US = 1000n;

export const ep = (workload: string, ip: string, port: number): Endpoint => ({ ip, port, namespace: 'shop', workload, pod: `${workload}-0`, service: workload });

/** One observation `atMs` after a minute ago; `phases` are µs after its start: request end, response start, end. */
export function observation(id: string, observer: 'outbound' | 'inbound', conn: string, ordinal: number, atMs: number, phases: [number, number, number], extra: Partial<CallRecord> = {}): CallRecord {
  const start = now - 60_000_000_000n + BigInt(atMs) * 1_000_000n;
  return {
    id,
    protocol: 'http',
    observer,
    connection_id: conn,
    ordinal,
    start,
    request_end: start + BigInt(phases[0]) * US,
    response_start: start + BigInt(phases[1]) * US,
    end: start + BigInt(phases[2]) * US,
    elapsed_us: phases[2],
    src: ep('web', '10.244.0.2', 40000),
    dst: ep('pay', '10.244.0.3', 8080),
    tls: { mesh: true },
    method: 'POST',
    path: '/charge',
    status_code: 200,
    bytes_in: 10,
    bytes_out: 10,
    redacted: [],
    sensitive: [],
    ...extra,
  };
}
