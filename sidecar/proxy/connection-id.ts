/**
 * Connection ids: 16 random hex digits, taken from a pooled `randomBytes` so the accept path
 * does not pay one crypto call per connection.
 */
import { randomBytes } from 'node:crypto';

const IDS_PER_POOL = 256;

export function createConnectionIdSource(random: (size: number) => Buffer = randomBytes): () => string {
  let pool: Buffer = Buffer.alloc(0);
  let offset = 0;
  return () => {
    if (offset >= pool.length) {
      pool = random(IDS_PER_POOL * 8);
      offset = 0;
    }
    const id = pool.toString('hex', offset, offset + 8);
    offset += 8;
    return id;
  };
}
