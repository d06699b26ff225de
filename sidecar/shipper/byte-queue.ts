/**
 * A FIFO bounded by bytes, for records waiting to be shipped.
 *
 * Entries taken for sending stay *reserved* against the bound until they are released
 * (acknowledged or dropped) or restored to the front (the stream broke before the ack). So the
 * bound covers everything the shipper holds, queued or in flight, and restoring never
 * overflows it.
 */

export interface QueueEntry<T> {
  readonly item: T;
  readonly bytes: number;
  /** When the entry was queued (clock ms); batching lingers relative to the oldest entry. */
  readonly at: number;
  /** How many times the entry has been sent without an acknowledgement. */
  attempts: number;
}

export interface ByteQueue<T> {
  readonly maxBytes: number;
  /** Queues the item unless it would take the held bytes over the bound. Never throws. */
  tryPush(item: T, bytes: number, at: number): boolean;
  /** Takes up to `maxRecords` entries and up to `maxBytes` bytes (always at least one entry when not empty). */
  take(maxRecords: number, maxBytes: number): QueueEntry<T>[];
  /** Forgets reserved entries (acknowledged, or dropped while in flight). */
  release(entries: readonly QueueEntry<T>[]): void;
  /** Puts reserved entries back at the front, in the order given. */
  restore(entries: readonly QueueEntry<T>[]): void;
  /** Removes and returns every queued (not reserved) entry. */
  drain(): QueueEntry<T>[];
  /** `at` of the oldest queued entry, or undefined when nothing is queued. */
  oldestAt(): number | undefined;
  readonly queuedRecords: number;
  readonly queuedBytes: number;
  readonly reservedRecords: number;
  readonly reservedBytes: number;
}

export function createByteQueue<T>(maxBytes: number): ByteQueue<T> {
  let items: QueueEntry<T>[] = [];
  let head = 0;
  let queuedBytes = 0;
  let reservedBytes = 0;
  let reservedRecords = 0;

  function compact(): void {
    // Amortised O(1) shift: drop the consumed prefix once it dominates the array.
    if (head > 1024 && head * 2 > items.length) {
      items = items.slice(head);
      head = 0;
    }
  }

  return {
    maxBytes,
    tryPush(item, bytes, at) {
      if (queuedBytes + reservedBytes + bytes > maxBytes) return false;
      items.push({ item, bytes, at, attempts: 0 });
      queuedBytes += bytes;
      return true;
    },
    take(maxRecords, maxTakeBytes) {
      const out: QueueEntry<T>[] = [];
      let bytes = 0;
      while (head < items.length && out.length < maxRecords) {
        const entry = items[head];
        if (out.length > 0 && bytes + entry.bytes > maxTakeBytes) break;
        out.push(entry);
        bytes += entry.bytes;
        head++;
      }
      queuedBytes -= bytes;
      reservedBytes += bytes;
      reservedRecords += out.length;
      compact();
      return out;
    },
    release(entries) {
      for (const e of entries) reservedBytes -= e.bytes;
      reservedRecords -= entries.length;
    },
    restore(entries) {
      if (entries.length === 0) return;
      let bytes = 0;
      for (const e of entries) bytes += e.bytes;
      reservedBytes -= bytes;
      reservedRecords -= entries.length;
      queuedBytes += bytes;
      if (head >= entries.length) {
        head -= entries.length;
        for (let i = 0; i < entries.length; i++) items[head + i] = entries[i];
      } else {
        items = [...entries, ...items.slice(head)];
        head = 0;
      }
    },
    drain() {
      const out = items.slice(head);
      items = [];
      head = 0;
      queuedBytes = 0;
      return out;
    },
    oldestAt() {
      return head < items.length ? items[head].at : undefined;
    },
    get queuedRecords() {
      return items.length - head;
    },
    get queuedBytes() {
      return queuedBytes;
    },
    get reservedRecords() {
      return reservedRecords;
    },
    get reservedBytes() {
      return reservedBytes;
    },
  };
}
