/**
 * The hand-off's op format on its own: what `OpWriter` writes, `readOps` reads back exactly —
 * every op kind, ops of every size against the chunk boundary (an op is never split; one larger
 * than a chunk gets a chunk of its own), batch after batch — and the writer copies nothing
 * after the payload's one copy: a batch's chunks are the buffers it wrote into, filled up to
 * their recorded lengths.
 */
import t from 'tap';
import {
  OP_CHUNK_BYTES,
  OP_CLIENT_DATA,
  OP_CLIENT_SKIP,
  OP_HEADER_BYTES,
  OP_OPEN,
  OP_SERVER_DATA,
  OP_SERVER_END,
  OpWriter,
  payloadSkip,
  payloadText,
  readOps,
  type OpBatch,
} from '../../../sidecar/capture-worker/ops.ts';

interface Seen {
  op: number;
  capture: number;
  time: number;
  payload: Buffer;
}

function read(batch: OpBatch): Seen[] {
  const seen: Seen[] = [];
  readOps(batch, { op: (op, capture, time, payload) => seen.push({ op, capture, time, payload: Buffer.from(payload) }) });
  return seen;
}

/** Deterministic bytes: the payload of op `i` is recognisable wherever it lands. */
function payload(i: number, size: number): Buffer {
  const b = Buffer.allocUnsafe(size);
  for (let k = 0; k < size; k++) b[k] = (i * 31 + k * 7) & 0xff;
  return b;
}

void t.test('every op kind reads back as written', async (t) => {
  const w = new OpWriter();
  w.text(OP_OPEN, 1, 0.5, '{"id":"c1"}');
  w.data(OP_CLIENT_DATA, 1, 1.25, Buffer.from('GET / HTTP/1.1\r\n\r\n'));
  w.skip(OP_CLIENT_SKIP, 1, 2, 4096, 'sidecar_budget');
  w.signal(OP_SERVER_END, 1, 3);
  t.equal(w.length, 4 * OP_HEADER_BYTES + 11 + 18 + 9, 'length counts headers and payloads');
  const seen = read(w.take());
  t.same(
    seen.map((s) => [s.op, s.capture, s.time]),
    [
      [OP_OPEN, 1, 0.5],
      [OP_CLIENT_DATA, 1, 1.25],
      [OP_CLIENT_SKIP, 1, 2],
      [OP_SERVER_END, 1, 3],
    ],
  );
  t.equal(payloadText(seen[0].payload), '{"id":"c1"}');
  t.equal(seen[1].payload.toString(), 'GET / HTTP/1.1\r\n\r\n');
  t.same(payloadSkip(seen[2].payload), { bytes: 4096, reason: 'sidecar_budget' });
  t.equal(seen[3].payload.byteLength, 0);
  t.equal(w.length, 0, 'take() empties the writer');
  t.same(w.take(), { buffers: [], lengths: [] }, 'an empty writer hands over no chunk');
});

void t.test('ops of every size around the chunk boundary: never split, read back exactly, nothing copied', async (t) => {
  const chunk = 256;
  const w = new OpWriter(chunk);
  // Sizes that fill a chunk exactly, leave one byte, overflow by one, and exceed a whole chunk.
  const sizes = [0, 1, chunk - OP_HEADER_BYTES, chunk - OP_HEADER_BYTES - 1, chunk - OP_HEADER_BYTES + 1, chunk, 3 * chunk + 5, 17, 100, 200];
  for (let round = 0; round < 3; round++) {
    const written: Buffer[] = [];
    for (let i = 0; i < 60; i++) {
      const size = sizes[(i * 7 + round) % sizes.length];
      const p = payload(i + round * 100, size);
      written.push(p);
      w.data(i % 2 === 0 ? OP_CLIENT_DATA : OP_SERVER_DATA, i, i / 4, p);
    }
    const expected = written.reduce((n, p) => n + OP_HEADER_BYTES + p.byteLength, 0);
    t.equal(w.length, expected, `round ${round}: length before take`);
    const batch = w.take();
    t.equal(batch.buffers.length, batch.lengths.length);
    t.equal(
      batch.lengths.reduce((a, b) => a + b, 0),
      expected,
      `round ${round}: the chunks hold exactly the ops`,
    );
    for (let i = 0; i < batch.buffers.length; i++) {
      t.ok(batch.lengths[i] > 0 && batch.lengths[i] <= batch.buffers[i].byteLength, `round ${round}: chunk ${i} used within its size`);
      // A chunk is the writer's fixed size unless one op alone needed more.
      if (batch.buffers[i].byteLength !== chunk) t.equal(batch.lengths[i], batch.buffers[i].byteLength, `round ${round}: an outsized chunk holds one op exactly`);
    }
    const seen = read(batch);
    t.equal(seen.length, written.length, `round ${round}: every op read`);
    for (let i = 0; i < seen.length; i++) {
      if (!seen[i].payload.equals(written[i]) || seen[i].capture !== i || seen[i].time !== i / 4) {
        t.fail(`round ${round}: op ${i} differs`);
        break;
      }
    }
  }
});

void t.test('the default chunk: a socket read of 64 KiB gets a chunk of its own, small ops share one', async (t) => {
  const w = new OpWriter();
  const big = payload(1, OP_CHUNK_BYTES);
  w.data(OP_CLIENT_DATA, 1, 0, payload(0, 100));
  w.data(OP_CLIENT_DATA, 1, 0, big);
  w.data(OP_CLIENT_DATA, 1, 0, payload(2, 100));
  const batch = w.take();
  t.same(batch.lengths, [OP_HEADER_BYTES + 100, OP_HEADER_BYTES + OP_CHUNK_BYTES, OP_HEADER_BYTES + 100]);
  t.same(
    batch.buffers.map((b) => b.byteLength),
    [OP_CHUNK_BYTES, OP_CHUNK_BYTES + OP_HEADER_BYTES, OP_CHUNK_BYTES],
  );
  t.ok(read(batch)[1].payload.equals(big));
});

void t.test('a truncated op ends its chunk only', async (t) => {
  const w = new OpWriter(128);
  w.data(OP_CLIENT_DATA, 1, 0, payload(0, 40));
  w.data(OP_CLIENT_DATA, 2, 0, payload(1, 100));
  const batch = w.take();
  t.equal(batch.buffers.length, 2);
  // The first chunk's recorded length cut short: its op is dropped, the next chunk still reads.
  batch.lengths[0] -= 1;
  const seen = read(batch);
  t.same(
    seen.map((s) => s.capture),
    [2],
  );
});
