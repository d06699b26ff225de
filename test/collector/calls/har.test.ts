/** HAR entries built from joined calls: headers and trailers, entry order, calls left out, decoded gRPC bodies. */
import t from 'tap';
import { buildHar, harEntry, leftOutComment } from '../../../collector/calls/har.ts';
import { buildCall, type JoinedCall } from '../../../collector/calls/join.ts';
import { recordToJson } from '../../../record/record-json.ts';
import type { CallRecord } from '../../../record/record.ts';
import { callRecord } from '../helpers.ts';

void t.test('a gRPC trailers-only response lists its status once; real trailers follow the headers', async (t) => {
  const record = callRecord({ id: 'g', protocol: 'grpc', observer: 'outbound', connectionId: 'g', method: 'POST', path: '/shop.Inventory/Reserve', status: 200, grpcStatus: 5, requestBody: '', responseBody: '' });
  record.response!.headers = { 'content-type': 'application/grpc', 'grpc-status': '5', 'grpc-message': 'not stocked' };
  record.response!.trailers = { 'grpc-status': '5', 'grpc-message': 'not stocked' };
  const only = harEntry(buildCall('g:0', recordToJson(record), undefined));
  t.same(only?.response.headers.map((h) => h.name), ['content-type', 'grpc-status', 'grpc-message']);

  record.response!.headers = { 'content-type': 'application/grpc' };
  record.response!.trailers = { 'grpc-status': '0', 'x-cost': '3' };
  const normal = harEntry(buildCall('g:0', recordToJson(record), undefined));
  t.same(normal?.response.headers, [
    { name: 'content-type', value: 'application/grpc' },
    { name: 'grpc-status', value: '0' },
    { name: 'x-cost', value: '3' },
  ]);
  // A trailer that differs from the header of the same name is listed too.
  record.response!.headers = { 'content-type': 'application/grpc', 'x-cost': '1' };
  t.same(harEntry(buildCall('g:0', recordToJson(record), undefined))?.response.headers.filter((h) => h.name === 'x-cost').map((h) => h.value), ['1', '3']);
});

const CREATOR = { name: 'meshtap', version: '0.0.0' };
const callOf = (r: CallRecord): JoinedCall => buildCall(`${r.connection_id}:${r.ordinal}`, recordToJson(r), undefined);

void t.test('buildHar: entries oldest first by startedDateTime, the same instant by call id, whatever order the calls come in', async (t) => {
  const calls = [
    callRecord({ id: 'late', connectionId: 'c-late', at: 30, method: 'GET', path: '/late', status: 200 }),
    callRecord({ id: 'tie-b', connectionId: 'c-b', at: 10, method: 'GET', path: '/b', status: 200 }),
    callRecord({ id: 'first', connectionId: 'c-first', at: 0, method: 'GET', path: '/first', status: 200 }),
    callRecord({ id: 'tie-a', connectionId: 'c-a', at: 10, method: 'GET', path: '/a', status: 200 }),
    // The same millisecond as c-late, 500 ns later: the nanoseconds order them, not the call id.
    callRecord({ id: 'sub-ms', connectionId: 'c-0', at: 30.0005, method: 'GET', path: '/sub', status: 200 }),
  ].map(callOf);
  const har = buildHar(calls, CREATOR);
  t.same(har.log.entries.map((e) => e._meshtap.call_id), ['c-first:0', 'c-a:0', 'c-b:0', 'c-late:0', 'c-0:0']);
  const times = har.log.entries.map((e) => Date.parse(e.startedDateTime));
  t.same(times, [...times].sort((a, b) => a - b), 'startedDateTime never goes back');
  t.same(buildHar([...calls].reverse(), CREATOR).log.entries.map((e) => e._meshtap.call_id), har.log.entries.map((e) => e._meshtap.call_id), 'the same order from any input order');
  t.equal(har.log.comment, undefined, 'nothing left out: no comment');
});

void t.test('buildHar: the calls left out, by protocol, in log.comment', async (t) => {
  const http = callOf(callRecord({ id: 'h', at: 1, method: 'GET', path: '/', status: 200 }));
  const redis = [1, 2, 3, 4].map((i) => callOf(callRecord({ id: `r${i}`, protocol: 'redis', at: i })));
  const pg = [1, 2].map((i) => callOf(callRecord({ id: `p${i}`, protocol: 'postgres', at: i })));
  const har = buildHar([http, ...pg, ...redis], CREATOR);
  t.same(har.log.entries.map((e) => e._meshtap.call_id), ['conn-h:0']);
  t.equal(har.log.comment, 'left out 4 redis, 2 postgres calls: HAR holds HTTP, HTTP/2 and gRPC only');
  t.equal(buildHar([http, redis[0]], CREATOR).log.comment, 'left out 1 redis call: HAR holds HTTP, HTTP/2 and gRPC only');
  t.equal(
    buildHar([http, redis[0]], CREATOR, { leftOut: new Map([['dns', 2], ['redis', 1]]) }).log.comment,
    'left out 2 dns, 2 redis calls: HAR holds HTTP, HTTP/2 and gRPC only',
    'counted elsewhere and here: added up',
  );
  t.equal(buildHar([], CREATOR, { leftOut: new Map([['mysql', 1000]]), leftOutAtLeast: true }).log.comment, 'left out at least 1000 mysql calls: HAR holds HTTP, HTTP/2 and gRPC only');
  t.equal(leftOutComment(new Map([['tcp', 0]])), undefined, 'a count of 0 is nothing left out');
});

void t.test('a decoded gRPC body: its JSON text as application/json, the wire type and size in a comment; other bodies as before', async (t) => {
  const requestJson = '{"messages":[{"size":9,"message":{"1":"sku-5","2":3}}]}';
  const responseJson = '{"messages":[{"size":12,"message":{"1":"reserved-1234"}}]}';
  const record = callRecord({ id: 'g', protocol: 'grpc', method: 'POST', path: '/shop.Inventory/Reserve', status: 200, grpcStatus: 0, requestBody: requestJson, responseBody: responseJson });
  record.request!.headers = { 'content-type': 'application/grpc' };
  record.request!.content_type = 'application/grpc';
  record.request!.body_size = 14;
  record.response!.headers = { 'content-type': 'application/grpc+proto' };
  record.response!.body_size = 17;
  record.notes = ['request.body: 1 gRPC message decoded without a schema (keys are field numbers)', 'response.body: 1 gRPC message decoded as shop.Reservation'];
  const entry = harEntry(callOf(record))!;
  t.same(entry.request.postData, {
    mimeType: 'application/json',
    text: requestJson,
    comment: "text is meshtap's JSON decoding of the gRPC messages, not the bytes sent (content type application/grpc, 14 bytes on the wire): 1 gRPC message decoded without a schema (keys are field numbers)",
  });
  t.equal(entry.request.bodySize, 14, 'bodySize: the wire size');
  t.same(entry.response.content, {
    size: 17,
    mimeType: 'application/json',
    text: responseJson,
    comment: "text is meshtap's JSON decoding of the gRPC messages, not the bytes sent (content type application/grpc+proto, 17 bytes on the wire): 1 gRPC message decoded as shop.Reservation",
  });
  t.equal(entry.response.bodySize, 17);
  t.same(
    entry.request.headers.find((h) => h.name === 'content-type'),
    { name: 'content-type', value: 'application/grpc' },
    'the headers still say what was sent',
  );

  // Not gRPC framing, kept as captured: the wire type, no comment.
  const raw = callRecord({ id: 'r', protocol: 'grpc', method: 'POST', path: '/x.Y/Z', status: 200, responseBody: 'not framing' });
  raw.response!.headers = { 'content-type': 'application/grpc' };
  t.same(harEntry(callOf(raw))!.response.content, { size: 11, mimeType: 'application/grpc', text: 'not framing' });
  // A JSON body of plain HTTP that happens to look the same: as sent.
  const plain = callRecord({ id: 'p', method: 'POST', path: '/m', status: 200, responseBody: '{"messages":[]}' });
  t.same(harEntry(callOf(plain))!.response.content, { size: 15, mimeType: 'application/json', text: '{"messages":[]}' });
});
