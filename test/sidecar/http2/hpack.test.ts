import t, { type Test } from 'tap';
import { HpackDecoder, type HeaderField } from '../../../sidecar/http2/hpack.ts';
import { EOS, HUFFMAN_CODE_LENGTHS, huffmanCode, huffmanDecode } from '../../../sidecar/http2/hpack-huffman.ts';
import { hex, hpackInt, huffmanEncode } from './h2-wire.ts';

interface Step {
  wire: string;
  headers: HeaderField[];
  /** Dynamic table after the block, newest first. */
  table: HeaderField[];
  size: number;
}

function runExamples(t: Test, steps: Step[], initialTableSize?: number): void {
  const d = new HpackDecoder({ initialTableSize });
  steps.forEach((s, i) => {
    const r = d.decode(hex(s.wire));
    if (!r.ok) {
      t.fail(`block ${i + 1}: ${r.error}`);
      return;
    }
    t.same(r.block.fields, s.headers, `block ${i + 1}: header list`);
    t.same(d.tableEntries(), s.table, `block ${i + 1}: dynamic table`);
    t.equal(d.tableSize, s.size, `block ${i + 1}: table size`);
  });
}

const REQ1: HeaderField[] = [[':method', 'GET'], [':scheme', 'http'], [':path', '/'], [':authority', 'www.example.com']];
const REQ2: HeaderField[] = [...REQ1, ['cache-control', 'no-cache']];
const REQ3: HeaderField[] = [[':method', 'GET'], [':scheme', 'https'], [':path', '/index.html'], [':authority', 'www.example.com'], ['custom-key', 'custom-value']];
const T1: HeaderField[] = [[':authority', 'www.example.com']];
const T2: HeaderField[] = [['cache-control', 'no-cache'], ...T1];
const T3: HeaderField[] = [['custom-key', 'custom-value'], ...T2];

const DATE1 = 'Mon, 21 Oct 2013 20:13:21 GMT';
const DATE2 = 'Mon, 21 Oct 2013 20:13:22 GMT';
const LOC = 'https://www.example.com';
const COOKIE = 'foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1';
const RES1: HeaderField[] = [[':status', '302'], ['cache-control', 'private'], ['date', DATE1], ['location', LOC]];
const RES2: HeaderField[] = [[':status', '307'], ['cache-control', 'private'], ['date', DATE1], ['location', LOC]];
const RES3: HeaderField[] = [[':status', '200'], ['cache-control', 'private'], ['date', DATE2], ['location', LOC], ['content-encoding', 'gzip'], ['set-cookie', COOKIE]];
const RT1: HeaderField[] = [['location', LOC], ['date', DATE1], ['cache-control', 'private'], [':status', '302']];
const RT2: HeaderField[] = [[':status', '307'], ['location', LOC], ['date', DATE1], ['cache-control', 'private']];
const RT3: HeaderField[] = [['set-cookie', COOKIE], ['content-encoding', 'gzip'], ['date', DATE2]];

void t.test('C.2.1 literal with indexing', async (t) => {
  runExamples(t, [{ wire: '400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572', headers: [['custom-key', 'custom-header']], table: [['custom-key', 'custom-header']], size: 55 }]);
});

void t.test('C.2.2 literal without indexing', async (t) => {
  runExamples(t, [{ wire: '040c 2f73 616d 706c 652f 7061 7468', headers: [[':path', '/sample/path']], table: [], size: 0 }]);
});

void t.test('C.2.3 literal never indexed', async (t) => {
  const d = new HpackDecoder();
  const r = d.decode(hex('1008 7061 7373 776f 7264 0673 6563 7265 74'));
  t.ok(r.ok);
  if (!r.ok) return;
  t.same(r.block.fields, [['password', 'secret']]);
  t.same(r.block.neverIndexed, ['password']);
  t.same(d.tableEntries(), []);
  t.equal(d.tableSize, 0);
});

void t.test('C.2.4 indexed field', async (t) => {
  runExamples(t, [{ wire: '82', headers: [[':method', 'GET']], table: [], size: 0 }]);
});

void t.test('C.3 requests without Huffman', async (t) => {
  runExamples(t, [
    { wire: '8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d', headers: REQ1, table: T1, size: 57 },
    { wire: '8286 84be 5808 6e6f 2d63 6163 6865', headers: REQ2, table: T2, size: 110 },
    { wire: '8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65', headers: REQ3, table: T3, size: 164 },
  ]);
});

void t.test('C.4 requests with Huffman', async (t) => {
  runExamples(t, [
    { wire: '8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff', headers: REQ1, table: T1, size: 57 },
    { wire: '8286 84be 5886 a8eb 1064 9cbf', headers: REQ2, table: T2, size: 110 },
    { wire: '8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf', headers: REQ3, table: T3, size: 164 },
  ]);
});

void t.test('C.5 responses without Huffman (table size 256, evictions)', async (t) => {
  runExamples(
    t,
    [
      {
        wire: `4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133
               2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70 6c65 2e63 6f6d`,
        headers: RES1,
        table: RT1,
        size: 222,
      },
      { wire: '4803 3330 37c1 c0bf', headers: RES2, table: RT2, size: 222 },
      {
        wire: `88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d
               54c0 5a04 677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049
               5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e 3d31`,
        headers: RES3,
        table: RT3,
        size: 215,
      },
    ],
    256,
  );
});

void t.test('C.6 responses with Huffman (table size 256, evictions)', async (t) => {
  runExamples(
    t,
    [
      {
        wire: `4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6
               2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3`,
        headers: RES1,
        table: RT1,
        size: 222,
      },
      { wire: '4883 640e ffc1 c0bf', headers: RES2, table: RT2, size: 222 },
      {
        wire: `88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab
               77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f
               9587 3160 65c0 03ed 4ee5 b106 3d50 07`,
        headers: RES3,
        table: RT3,
        size: 215,
      },
    ],
    256,
  );
});

void t.test('Huffman code matches RFC 7541 Appendix B', async (t) => {
  // The decoder rebuilds codes from lengths; these are the RFC's printed codes (hex, LSB-aligned).
  const printed: Array<[number, number]> = [
    [0, 0x1ff8], [1, 0x7fffd8], [2, 0xfffffe2], [9, 0xffffea], [10, 0x3ffffffc], [13, 0x3ffffffd], [22, 0x3ffffffe],
    [31, 0xffffffb], [32, 0x14], [33, 0x3f8], [35, 0xffa], [36, 0x1ff9], [38, 0xf8], [39, 0x7fa], [47, 0x18], [48, 0x0],
    [58, 0x5c], [60, 0x7ffc], [62, 0xffb], [64, 0x1ffa], [88, 0xfc], [89, 0x73], [90, 0xfd], [92, 0x7fff0], [94, 0x3ffc],
    [96, 0x7ffd], [97, 0x3], [122, 0x7b], [123, 0x7ffe], [124, 0x7fc], [125, 0x3ffd], [126, 0x1ffd], [127, 0xffffffc],
    [128, 0xfffe6], [129, 0x3fffd2], [153, 0x1fffdc], [176, 0x1fffe0], [191, 0x7ffff1], [192, 0x3ffffe0],
    [195, 0x7fff1], [199, 0x1ffffec], [203, 0x7ffffde], [208, 0x7fff2], [220, 0xffffffd], [235, 0x1ffffef],
    [241, 0x7ffffe6], [249, 0xffffffe], [254, 0x7fffff0], [255, 0x3ffffee], [EOS, 0x3fffffff],
  ];
  for (const [sym, code] of printed) t.equal(huffmanCode(sym).code, code, `symbol ${sym}`);
  t.equal(HUFFMAN_CODE_LENGTHS.length, 257);
  t.equal(HUFFMAN_CODE_LENGTHS.reduce((a, l) => a + 2 ** -l, 0), 1, 'a complete prefix code');
  const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
  t.same(Buffer.from(huffmanDecode(huffmanEncode(all))), all, 'every octet round-trips');
});

void t.test('Huffman errors: padding and EOS', async (t) => {
  t.throws(() => huffmanDecode(hex('00')), /padding/, 'zero padding bits');
  t.throws(() => huffmanDecode(hex('ffff')), /padding/, 'padding of 8+ bits');
  t.throws(() => huffmanDecode(hex('ffffffff')), /EOS|padding|invalid/, 'EOS inside');
  t.same(Buffer.from(huffmanDecode(hex('1f'))).toString(), 'a', '3 padding bits');
});

void t.test('decoding errors are values', async (t) => {
  const cases: Array<[string, string, RegExp]> = [
    ['index 0', '80', /index 0/],
    ['index beyond table', 'be', /beyond the dynamic table/],
    ['truncated string', '400a 6375', /string longer/],
    ['truncated integer', '7f', /ends inside an integer/],
    ['huge integer', '7fffffffffffff7f', /integer too large/],
    ['size update after a field', '82 20', /size update after/],
    ['size update above settings', hpackInt(8192, 5, 0x20).map((b) => b.toString(16).padStart(2, '0')).join(''), /above SETTINGS_HEADER_TABLE_SIZE/],
    ['bad huffman', '4081 00 00', /padding/],
  ];
  for (const [label, wire, re] of cases) {
    const r = new HpackDecoder().decode(hex(wire));
    t.notOk(r.ok, label);
    if (!r.ok) t.match(r.error, re, label);
  }
});

void t.test('size updates: allowed up to SETTINGS, evict, hard cap', async (t) => {
  const d = new HpackDecoder({ maxTableSize: 10_000 });
  t.ok(d.decode(hex('400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572')).ok);
  t.equal(d.tableSize, 55);
  t.ok(d.decode(Buffer.from(hpackInt(0, 5, 0x20))).ok, 'size update to 0');
  t.equal(d.tableSize, 0);
  t.same(d.tableEntries(), []);
  t.ok(d.decode(Buffer.from(hpackInt(4096, 5, 0x20))).ok, 'back to 4096');
  t.equal(d.tableCapacity, 4096);
  d.allowTableSize(65536);
  const r = d.decode(Buffer.from(hpackInt(65536, 5, 0x20)));
  t.notOk(r.ok, 'allowed by SETTINGS but above the capture limit');
  if (!r.ok) t.match(r.error, /capture's limit/);
  d.allowTableSize(100);
  t.ok(d.decode(Buffer.from(hpackInt(8000, 5, 0x20))).ok, 'a later smaller SETTINGS does not lower the bound');
});

void t.test('kept bytes bound: later fields counted, table still updated', async (t) => {
  const d = new HpackDecoder();
  const block = hex('400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572 82 84');
  const r = d.decode(block, 60);
  t.ok(r.ok);
  if (!r.ok) return;
  t.same(r.block.fields, [['custom-key', 'custom-header']]);
  t.equal(r.block.omitted, 2);
  const r2 = d.decode(hex('40 0161 0162'), 0);
  t.ok(r2.ok);
  if (r2.ok) t.same(r2.block.fields, []);
  t.same(d.tableEntries()[0], ['a', 'b'], 'inserted although not kept');
});
