import assert from 'node:assert/strict';
import t from 'tap';
import { bodyFromJson, bodyToJson, recordFromJson, recordToJson } from '../../record/record-json.ts';
import { fullRecord, minimalRecord } from '../proto/record-fixtures.ts';

void t.test('JSON form: ns times as decimal strings, bodies as text or base64', async (t) => {
  const r = fullRecord(3);
  const j = recordToJson(r);
  t.equal(j.start, r.start.toString());
  t.equal(typeof j.end, 'string');
  t.equal(j.response_start, r.response_start!.toString());
  t.same(j.request?.body, { text: JSON.stringify({ order: 3, password: '***' }) });
  t.same(j.response?.body, { base64: Buffer.from([0xff, 0x00, 0xfe, 0x80]).toString('base64') });
  t.equal(j.src.pod, 'frontend-7d9f');
  const text = JSON.stringify(j);
  t.notMatch(text, /"start":\d/, 'no numeric times');
  const parsed = JSON.parse(text);
  t.doesNotThrow(() => assert.deepStrictEqual(recordFromJson(parsed), r), 'JSON text round-trips to the same record');

  const min = recordToJson(minimalRecord());
  t.notOk('request' in min, 'absent optionals absent');
  t.notOk('method' in min);
  t.same(JSON.parse(JSON.stringify(min)).start, '0');
});

void t.test('body encoding edge cases', async (t) => {
  t.same(bodyToJson(new Uint8Array(0)), { text: '' }, 'empty body is empty text');
  const bom = new Uint8Array([0xef, 0xbb, 0xbf, 0x61]);
  t.same([...bodyFromJson(bodyToJson(bom))], [...bom], 'a byte-order mark survives');
  const utf8 = new TextEncoder().encode('héllo ✓ \u0000');
  t.same(bodyToJson(utf8), { text: 'héllo ✓ \u0000' });
  const truncatedUtf8 = utf8.subarray(0, 2); // cut inside "é"
  t.ok('base64' in bodyToJson(truncatedUtf8), 'invalid UTF-8 goes base64');
  t.same([...bodyFromJson(bodyToJson(truncatedUtf8))], [...truncatedUtf8]);
  t.throws(() => recordFromJson({ ...recordToJson(minimalRecord()), start: 12 as unknown as string }), { code: 'REC_ERR_BAD_RECORD' });
});
