/**
 * What the capture micro-benchmarks (`capture-engine.ts`, `capture-hand-off.ts`) feed capture:
 * the bytes of one keep-alive HTTP/1.1 call each way, and the meta of an inbound mesh connection.
 */
import type { ConnectionMeta } from '../sidecar/proxy/connection.ts';

export interface BenchCall {
  name: string;
  request: Buffer;
  response: Buffer;
}

/** The `npm run bench` request: POST of 1 KiB `application/octet-stream`, echoed back. */
export function benchCall(): BenchCall {
  const body = 'b'.repeat(1024);
  return {
    name: 'bench request (octet-stream, 1 KiB echoed)',
    request: Buffer.from(`POST /echo HTTP/1.1\r\ncontent-type: application/octet-stream\r\ncontent-length: 1024\r\nhost: 10.0.2.2:8080\r\nconnection: keep-alive\r\n\r\n${body}`),
    response: Buffer.from(`HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\ncontent-length: 1024\r\ndate: Fri, 04 Dec 2026 12:00:00 GMT\r\nconnection: keep-alive\r\nkeep-alive: timeout=5\r\n\r\n${body}`),
  };
}

/** A JSON API call: 1 KiB JSON bodies both ways, a bearer token, a cookie, an e-mail in the body. */
export function jsonCall(): BenchCall {
  const item = '{"sku":"A-1","qty":1,"price":12.5}';
  const body = `{"order":42,"customer":"c-1093","email":"ana@example.com","items":[${Array(28).fill(item).join(',')}]}`;
  const head = (extra: string): string => `content-type: application/json\r\ncontent-length: ${body.length}\r\n${extra}`;
  return {
    name: 'JSON API call (1 KiB both ways, token, cookie)',
    request: Buffer.from(
      `POST /api/orders?page=2 HTTP/1.1\r\nhost: orders.shop.svc.cluster.local:8080\r\nuser-agent: frontend/2.3.1\r\naccept: application/json\r\n` +
        `authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJjLTEwOTMifQ.c2lnbmF0dXJl\r\ncookie: session=9f8e7d6c5b4a\r\n` +
        `x-request-id: 2f1c9a4e-8b7d-4c3a-9e1f-5a6b7c8d9e0f\r\n${head('')}\r\n${body}`,
    ),
    response: Buffer.from(`HTTP/1.1 201 Created\r\n${head('date: Fri, 04 Dec 2026 12:00:00 GMT\r\ncache-control: no-store\r\n')}\r\n${body}`),
  };
}

/** Inbound mesh connection number `c` of the server pod. */
export function benchConnectionMeta(c: number): ConnectionMeta {
  return { connectionId: `conn-${c}`, observer: 'inbound', client: { ip: '10.0.1.2', port: 40000 + c }, dst: { ip: '10.0.2.2', port: 8080 }, mesh: true };
}
