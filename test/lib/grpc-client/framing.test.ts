/** gRPC message framing: the prefix written, and messages read back from chunks split anywhere. */
import t from 'tap';
import { createMessageReader, FrameError, FRAME_HEADER_BYTES, frameMessage, writeFrameHeader } from '../../../lib/grpc-client/framing.ts';

const messages = [Buffer.from('hello'), Buffer.alloc(0), Buffer.from([0, 1, 2, 0xff]), Buffer.alloc(300, 7)];
const stream = Buffer.concat(messages.map(frameMessage));

void t.test('the prefix: flag 0, length big-endian', async (t) => {
  const framed = frameMessage(Buffer.alloc(0x010203, 1));
  t.same([...framed.subarray(0, FRAME_HEADER_BYTES)], [0, 0, 0x01, 0x02, 0x03]);
  t.equal(framed.length, FRAME_HEADER_BYTES + 0x010203);
  t.same([...frameMessage(Buffer.from('ab'))], [0, 0, 0, 0, 2, 0x61, 0x62]);
});

void t.test('framing in place over headroom gives the bytes frameMessage gives', async (t) => {
  for (const message of [...messages, Buffer.alloc(0x010203, 9)]) {
    const withHeadroom = Buffer.alloc(FRAME_HEADER_BYTES + message.length, 0xee);
    message.copy(withHeadroom, FRAME_HEADER_BYTES);
    const framed = writeFrameHeader(withHeadroom);
    t.equal(framed, withHeadroom, 'the same buffer, not a copy');
    t.ok(framed.equals(frameMessage(message)), `${message.length} bytes`);
  }
  t.throws(() => writeFrameHeader(Buffer.alloc(FRAME_HEADER_BYTES - 1)), RangeError, 'too short to hold the prefix');
});

void t.test('every split of the stream into two and three chunks reads the same messages', async (t) => {
  let checked = 0;
  for (let i = 0; i <= stream.length; i++) {
    const reader = createMessageReader(1024);
    const got = [...reader.push(stream.subarray(0, i)), ...reader.push(stream.subarray(i))];
    reader.finish();
    if (got.length !== messages.length || got.some((m, k) => !m.equals(messages[k]))) t.fail(`split at ${i}`);
    checked++;
  }
  // Three chunks around the small messages and the prefixes (the 300-byte body is covered above).
  for (let i = 0; i <= 40; i++) {
    for (let j = i; j <= 40; j++) {
      const reader = createMessageReader(1024);
      const got = [...reader.push(stream.subarray(0, i)), ...reader.push(stream.subarray(i, j)), ...reader.push(stream.subarray(j))];
      reader.finish();
      if (got.length !== messages.length || got.some((m, k) => !m.equals(messages[k]))) t.fail(`split at ${i}, ${j}`);
      checked++;
    }
  }
  t.equal(checked, stream.length + 1 + (41 * 42) / 2, 'all splits checked');
  const byteByByte = createMessageReader(1024);
  const got: Buffer[] = [];
  for (const b of stream) got.push(...byteByByte.push(Buffer.from([b])));
  t.same(got.map((m) => m.toString('hex')), messages.map((m) => m.toString('hex')), 'one byte at a time');
  t.equal(byteByByte.pending, 0);
});

function failure(fn: () => unknown): FrameError | undefined {
  try {
    fn();
  } catch (err) {
    if (err instanceof FrameError) return err;
    throw err;
  }
  return undefined;
}

void t.test('a compressed message is refused: no compression is ever negotiated', async (t) => {
  const framed = frameMessage(Buffer.from('zz'));
  framed[0] = 1;
  const reader = createMessageReader(1024);
  const e = failure(() => reader.push(framed));
  t.equal(e?.kind, 'compressed');
  t.match(e?.message, /compressed message, but no compression was negotiated/);
  t.equal(failure(() => reader.push(Buffer.alloc(1)))?.kind, 'compressed', 'the reader stays failed');
  framed[0] = 0x80;
  t.match(failure(() => createMessageReader(1024).push(framed))?.message, /invalid message flag 128/);
});

void t.test('a message over the limit is refused from its prefix, before its body is buffered', async (t) => {
  const reader = createMessageReader(100);
  t.same(reader.push(frameMessage(Buffer.alloc(100))).map((m) => m.length), [100], 'at the limit: read');
  const e = failure(() => reader.push(Buffer.from([0, 0xff, 0xff, 0xff, 0xff])));
  t.equal(e?.kind, 'too_large');
  t.match(e?.message, /4294967295 bytes, more than the limit of 100/);
});

void t.test('a stream ending inside a message is reported, in the prefix or in the body', async (t) => {
  const inPrefix = createMessageReader(1024);
  t.same(inPrefix.push(stream.subarray(0, 3)), []);
  t.equal(inPrefix.pending, 3);
  t.match(failure(() => inPrefix.finish()), { kind: 'truncated', message: /3 of the 5 prefix bytes/ });
  const inBody = createMessageReader(1024);
  inBody.push(frameMessage(Buffer.from('hello')).subarray(0, 7));
  t.match(failure(() => inBody.finish()), { kind: 'truncated', message: /2 of 5 bytes/ });
  const complete = createMessageReader(1024);
  complete.push(stream);
  t.equal(failure(() => complete.finish()), undefined, 'whole messages: nothing to report');
});
