/** The pool of serialized-request buffers: exact views, reuse only after release, bounded. */
import t from 'tap';
import { BufferPool } from '../../../lib/grpc-client/buffer-pool.ts';

void t.test('a buffer is reused only once released, as a view of exactly the size asked', (t) => {
  const pool = new BufferPool();
  const a = pool.acquire(100_000);
  t.equal(a.length, 100_000);
  t.ok(a.buffer.byteLength >= 100_000 && a.buffer.byteLength % 65536 === 0, `capacity rounded up (${a.buffer.byteLength})`);
  const b = pool.acquire(100_000);
  t.not(b.buffer, a.buffer, 'a buffer in use is not handed out again');
  pool.release(a);
  const c = pool.acquire(70_000);
  t.equal(c.buffer, a.buffer, 'released memory is reused');
  t.equal(c.length, 70_000);
  t.equal(pool.acquire(200_000).buffer === b.buffer, false, 'a buffer too small for the request is not used');
  t.same({ allocated: pool.allocated, reused: pool.reused }, { allocated: 3, reused: 1 });
  t.end();
});

void t.test('the smallest free buffer that fits is used; a release twice keeps one copy', (t) => {
  const pool = new BufferPool({ keep: 4 });
  const small = pool.acquire(10);
  const large = pool.acquire(300_000);
  pool.release(large);
  pool.release(small);
  pool.release(small);
  t.equal(pool.keptBytes, small.buffer.byteLength + large.buffer.byteLength, 'each kept once');
  t.equal(pool.acquire(5).buffer, small.buffer, 'the small one for a small request');
  t.equal(pool.acquire(5).buffer === large.buffer, true, 'then the large one');
  t.end();
});

void t.test('bounded: at most `keep` buffers, the larger ones kept, none over the size cap', (t) => {
  const pool = new BufferPool({ keep: 2, maxKeptBytes: 1024 * 1024 });
  const sizes = [64 * 1024, 128 * 1024, 256 * 1024, 2 * 1024 * 1024];
  const buffers = sizes.map((n) => pool.acquire(n));
  for (const b of buffers) pool.release(b);
  t.equal(pool.keptBytes, 384 * 1024, 'the two largest under the cap (128 and 256 KiB)');
  t.equal(pool.acquire(200_000).buffer, buffers[2].buffer);
  t.equal(pool.acquire(100_000).buffer, buffers[1].buffer);
  t.equal(pool.keptBytes, 0);
  t.end();
});
