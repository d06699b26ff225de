import t from 'tap';
import fc from 'fast-check';
import { HpackDecoder, type HeaderField } from '../../../sidecar/http2/hpack.ts';
import { createHttp2Session } from '../../../sidecar/http2/session.ts';
import type { Exchange } from '../../../sidecar/capture/session.ts';
import { octetText } from '../../../sidecar/http1/octet-text.ts';
import { data, headers, PREFACE, settings, TestHpackEncoder, type Indexing } from './h2-wire.ts';

const octets = (max: number): fc.Arbitrary<string> => fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: max }).map((a) => String.fromCharCode(...a));
const tokenName = fc.stringMatching(/^[a-z][a-z0-9-]{0,20}$/);
/** A small pool so names and whole fields repeat (and get indexed). */
const pooledName = fc.constantFrom('content-type', 'x-tenant', 'authorization', 'cookie-ish', 'accept', 'user-agent', 'x-a');
const field: fc.Arbitrary<HeaderField> = fc.tuple(fc.oneof(tokenName, pooledName), fc.oneof(octets(40), fc.constantFrom('', 'gzip', 'acme', 'Bearer x'))).map(([n, v]) => [n, v]);

const blockSpec = fc.record({
  fields: fc.array(field, { maxLength: 12 }),
  huffman: fc.boolean(),
  indexing: fc.constantFrom<Indexing>('incremental', 'none', 'never'),
  sizeUpdate: fc.option(fc.integer({ min: 0, max: 4096 }), { nil: undefined }),
});

void t.test('decode(encode(list)) = list across a sequence of blocks sharing one dynamic table', async (t) => {
  fc.assert(
    fc.property(fc.array(blockSpec, { minLength: 1, maxLength: 8 }), (blocks) => {
      const enc = new TestHpackEncoder();
      const dec = new HpackDecoder();
      for (const b of blocks) {
        const wire = enc.encode(b.fields, { huffman: b.huffman, indexing: b.indexing, sizeUpdate: b.sizeUpdate });
        const r = dec.decode(wire);
        if (!r.ok) return false;
        if (JSON.stringify(r.block.fields) !== JSON.stringify(b.fields)) return false;
        if (dec.tableSize > dec.tableCapacity) return false;
      }
      return true;
    }),
    { numRuns: 400 },
  );
  t.pass('400 random block sequences decoded exactly');
});

void t.test('through the session: random header lists, CONTINUATION splits and chunk cuts', async (t) => {
  const requestFields = fc.array(fc.tuple(tokenName.filter((n) => n !== 'cookie' && n !== 'host' && n !== 'set-cookie'), octets(30).map((v) => v.trim())), { maxLength: 10 });
  fc.assert(
    fc.property(fc.array(requestFields, { minLength: 1, maxLength: 5 }), fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 97 }), fc.boolean(), (lists, split, cut, huffman) => {
      const enc = new TestHpackEncoder();
      const resEnc = new TestHpackEncoder();
      const client: Buffer[] = [PREFACE, settings()];
      const server: Buffer[] = [settings()];
      lists.forEach((list, i) => {
        const id = 1 + 2 * i;
        const block = enc.encode([[':method', 'GET'], [':path', `/p${i}`], [':scheme', 'http'], [':authority', 'a'], ...list], { huffman });
        client.push(headers(id, block, { split, endStream: true }));
        server.push(headers(id, resEnc.encode([[':status', '200'], ...list], { huffman: !huffman }), { split: split + 3 }), data(id, `r${i}`, { endStream: true }));
      });
      const out: Exchange[] = [];
      const s = createHttp2Session({ maxBodyBytes: 100, emit: (e) => out.push(e), event: () => {} });
      const feed = (buf: Buffer, fn: (p: Buffer) => void): void => {
        for (let o = 0; o < buf.length; o += cut) fn(buf.subarray(o, o + cut));
      };
      feed(Buffer.concat(client), (p) => s.clientData(p, 1n));
      feed(Buffer.concat(server), (p) => s.serverData(p, 2n));
      s.close(3n, 'fin');
      if (out.length !== lists.length) return false;
      return lists.every((list, i) => {
        const e = out[i];
        const expected: Record<string, string> = {};
        // Each value as the record reads it (UTF-8 where its octets are), repeats joined after.
        for (const [n, octets] of list) {
          const v = octetText(octets);
          expected[n] = Object.hasOwn(expected, n) ? `${expected[n]}, ${v}` : v;
        }
        return e.path === `/p${i}` && e.error === undefined && JSON.stringify(e.request?.headers) === JSON.stringify(expected) && JSON.stringify(e.response?.headers) === JSON.stringify(expected);
      });
    }),
    { numRuns: 200 },
  );
  t.pass('200 random connections captured exactly');
});
