/** gRPC status: codes and names, and the status read from trailers, trailers-only answers and HTTP errors. */
import t from 'tap';
import * as grpc from '@grpc/grpc-js';
import { decodeGrpcMessage, GRPC_STATUS, GrpcCallError, statusFromHttp, statusFromResponse, statusName } from '../../../lib/grpc-client/status.ts';
import { grpcTimeout, statusFromRstCode } from '../../../lib/grpc-client/call.ts';

void t.test('the codes and names are the spec\'s (as grpc-js numbers them)', async (t) => {
  for (const [name, code] of Object.entries(GRPC_STATUS)) {
    t.equal(code, grpc.status[name as keyof typeof grpc.status], name);
    t.equal(statusName(code), name);
  }
  t.equal(Object.keys(GRPC_STATUS).length, 17);
  t.equal(statusName(99), '99', 'a code outside the spec: its number');
  const e = new GrpcCallError({ code: GRPC_STATUS.NOT_FOUND, details: 'no such sku' });
  t.match(e, { code: 5, details: 'no such sku', message: '5 NOT_FOUND: no such sku' });
});

void t.test('grpc-message is percent-decoded; a bad escape is kept', async (t) => {
  t.equal(decodeGrpcMessage('order%20not%20found%3A%20o-1'), 'order not found: o-1');
  t.equal(decodeGrpcMessage('caf%C3%A9'), 'café');
  t.equal(decodeGrpcMessage('100%'), '100%');
  t.equal(decodeGrpcMessage('50%zz and%20more'), '50%zz and more');
  t.equal(decodeGrpcMessage('plain'), 'plain');
});

void t.test('status from trailers, from a trailers-only answer, and without one', async (t) => {
  const ok = { ':status': 200, 'content-type': 'application/grpc' };
  t.same(statusFromResponse(ok, { 'grpc-status': '0' }), { code: 0, details: '', metadata: { 'grpc-status': '0' } });
  t.match(statusFromResponse(ok, { 'grpc-status': '5', 'grpc-message': 'sku%20tea%20gone' }), { code: 5, details: 'sku tea gone' });
  t.match(statusFromResponse({ ...ok, 'grpc-status': '16', 'grpc-message': 'CA_ERR_TOKEN_EXPIRED%3A%20expired' }, undefined), { code: 16, details: 'CA_ERR_TOKEN_EXPIRED: expired' }, 'trailers-only');
  t.match(statusFromResponse(ok, { 'grpc-status': 'x' }), { code: GRPC_STATUS.UNKNOWN, details: /invalid grpc-status "x"/ });
  t.match(statusFromResponse(ok, { 'x-other': '1' }), { code: GRPC_STATUS.UNKNOWN, details: /without a grpc-status/ });
  t.match(statusFromResponse(ok, undefined), { code: GRPC_STATUS.UNKNOWN, details: /without a grpc-status/ });
  t.match(statusFromResponse(undefined, undefined), { code: GRPC_STATUS.UNAVAILABLE, details: /before any response headers/ });
});

void t.test('an HTTP status other than 200 without a grpc-status maps per the spec', async (t) => {
  const cases: [number, number][] = [
    [400, GRPC_STATUS.INTERNAL],
    [401, GRPC_STATUS.UNAUTHENTICATED],
    [403, GRPC_STATUS.PERMISSION_DENIED],
    [404, GRPC_STATUS.UNIMPLEMENTED],
    [429, GRPC_STATUS.UNAVAILABLE],
    [502, GRPC_STATUS.UNAVAILABLE],
    [503, GRPC_STATUS.UNAVAILABLE],
    [504, GRPC_STATUS.UNAVAILABLE],
    [500, GRPC_STATUS.UNKNOWN],
    [302, GRPC_STATUS.UNKNOWN],
  ];
  for (const [http, code] of cases) {
    t.equal(statusFromHttp(http), code, `HTTP ${http}`);
    t.match(statusFromResponse({ ':status': http, 'content-type': 'text/html' }, undefined), { code, details: `the server answered HTTP ${http} without a gRPC status` });
  }
  t.match(statusFromResponse({ ':status': 503, 'grpc-status': '8', 'grpc-message': 'busy' }, undefined), { code: 8, details: 'busy' }, 'a grpc-status wins over the HTTP status');
});

void t.test('RST_STREAM codes and grpc-timeout', async (t) => {
  t.equal(statusFromRstCode(7).code, GRPC_STATUS.UNAVAILABLE, 'REFUSED_STREAM');
  t.equal(statusFromRstCode(8).code, GRPC_STATUS.CANCELLED, 'CANCEL');
  t.equal(statusFromRstCode(11).code, GRPC_STATUS.RESOURCE_EXHAUSTED, 'ENHANCE_YOUR_CALM');
  t.equal(statusFromRstCode(12).code, GRPC_STATUS.PERMISSION_DENIED, 'INADEQUATE_SECURITY');
  t.equal(statusFromRstCode(2).code, GRPC_STATUS.INTERNAL, 'INTERNAL_ERROR');
  t.equal(grpcTimeout(1500), '1500m');
  t.equal(grpcTimeout(0.2), '1m', 'rounded up');
  t.equal(grpcTimeout(-5), '0m');
  t.equal(grpcTimeout(99_999_999), '99999999m');
  t.equal(grpcTimeout(100_000_000), '100000S', 'at most eight digits');
});
