/** HAR entries built from joined calls: what the export lists for a call's headers and trailers. */
import t from 'tap';
import { harEntry } from '../../../collector/calls/har.ts';
import { buildCall } from '../../../collector/calls/join.ts';
import { recordToJson } from '../../../record/record-json.ts';
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
