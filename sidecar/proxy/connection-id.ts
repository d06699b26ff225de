/**
 * Connection ids: the Unix second the connection was taken (8 hex digits, good until 2106), then
 * 16 random hex digits taken from a pooled `randomBytes`, so the accept path does not pay one
 * crypto call per connection.
 *
 * Time first, so a newer connection's id sorts after an older one's. Record ids are
 * `<connection_id>-<o|i><n>`, and the collector keeps them in a unique index: with ids that were
 * random throughout, each record of a new connection landed on a page of its own all over that
 * index, and each commit wrote every such page again. Ordered by time, the records of new
 * connections (a request per connection, a DNS query) go to the index's end. Measured with a
 * record per connection (the collector benches write ids this way): 26.1 → 20.1 KB written per
 * record in the store micro-benchmark's commits of 256, 12.3 → 10.7 KB in commits of 1 024, and
 * 16.3–17.0 → 13.9–14.4 KB in the ingest phase; CPU per record within the noise. The 64 random
 * bits are per second, so two connections of a cluster get the same id only if they start in
 * the same second and draw the same 64 bits: at 100 000 new connections a second, about once a
 * century (with 64 random bits and no time, a new id met one of the previous day's about four
 * times a day at that rate, and the collector drops a record whose id it holds as a re-send).
 */
import { randomBytes } from 'node:crypto';

const IDS_PER_POOL = 256;

/** The id of a connection taken at `unixSeconds`, with its 16 random hex digits. */
export function connectionIdAt(unixSeconds: number, randomHex: string): string {
  return (Math.floor(unixSeconds) >>> 0).toString(16).padStart(8, '0') + randomHex;
}

export function createConnectionIdSource(random: (size: number) => Buffer = randomBytes, nowMs: () => number = Date.now): () => string {
  let pool: Buffer = Buffer.alloc(0);
  let offset = 0;
  return () => {
    if (offset >= pool.length) {
      pool = random(IDS_PER_POOL * 8);
      offset = 0;
    }
    const id = connectionIdAt(nowMs() / 1000, pool.toString('hex', offset, offset + 8));
    offset += 8;
    return id;
  };
}
