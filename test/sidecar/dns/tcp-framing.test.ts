/** TCP framing: messages reassembled identically at every split of the stream. */
import t from 'tap';
import fc from 'fast-check';
import { FrameReader } from '../../../sidecar/dns/tcp-framing.ts';

function frame(message: Uint8Array): Uint8Array {
  return Uint8Array.from([message.length >> 8, message.length & 0xff, ...message]);
}

const messages = [Uint8Array.from([1, 2, 3]), new Uint8Array(0), Uint8Array.from(Array.from({ length: 300 }, (_, i) => i & 0xff)), Uint8Array.from([9])];
const stream = Uint8Array.from(messages.flatMap((m) => [...frame(m)]));

void t.test('every single split and every pair of splits gives the same messages', async (t) => {
  let checked = 0;
  for (let a = 0; a <= stream.length; a++) {
    for (let b = a; b <= stream.length; b += a < 8 || b - a < 8 ? 1 : 37) {
      const reader = new FrameReader();
      const out = [...reader.push(stream.subarray(0, a)), ...reader.push(stream.subarray(a, b)), ...reader.push(stream.subarray(b))];
      if (JSON.stringify(out.map((m) => [...m])) !== JSON.stringify(messages.map((m) => [...m]))) {
        t.fail(`split at ${a} and ${b}`);
        return;
      }
      if (reader.buffered !== 0) t.fail(`bytes left at ${a}/${b}`);
      checked++;
    }
  }
  t.ok(checked > stream.length, `${checked} splits give the four messages`);
});

void t.test('byte by byte, and a frame cut at the end stays buffered', async (t) => {
  const reader = new FrameReader();
  const out: Uint8Array[] = [];
  for (const byte of stream) out.push(...reader.push(Uint8Array.of(byte)));
  t.same(out.map((m) => [...m]), messages.map((m) => [...m]));
  t.same(reader.push(Uint8Array.from([0, 5, 1, 2])), [], 'an incomplete frame gives nothing');
  t.equal(reader.buffered, 4);
  t.same(reader.push(Uint8Array.from([3, 4, 5, 0])).map((m) => [...m]), [[1, 2, 3, 4, 5]], 'until its last byte arrives');
  t.equal(reader.buffered, 1, 'the next frame\'s first length byte waits');
});

void t.test('property: random messages at random chunkings', async (t) => {
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ maxLength: 700 }), { maxLength: 8 }), fc.array(fc.integer({ min: 1, max: 900 }), { minLength: 1, maxLength: 20 }), (msgs, sizes) => {
      const bytes = Uint8Array.from(msgs.flatMap((m) => [...frame(m)]));
      const reader = new FrameReader();
      const out: Uint8Array[] = [];
      let at = 0;
      for (let i = 0; at < bytes.length; i++) {
        const n = sizes[i % sizes.length];
        out.push(...reader.push(bytes.subarray(at, at + n)));
        at += n;
      }
      return JSON.stringify(out.map((m) => [...m])) === JSON.stringify(msgs.map((m) => [...m])) && reader.buffered === 0;
    }),
    { numRuns: 300 },
  );
  t.pass('300 random streams');
});
