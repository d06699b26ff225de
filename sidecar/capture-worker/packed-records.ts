/**
 * Encoded records crossing between the forwarding thread and the capture worker: one
 * transferable buffer of `[length u32 LE][record bytes]` … (the worker's records coming back,
 * DNS records going to the worker's shipper).
 */

/** `records` (whose lengths plus 4 each sum to `bytes`) in one buffer. */
export function packRecords(records: readonly Uint8Array[], bytes: number): ArrayBuffer {
  const packed = new ArrayBuffer(bytes);
  const view = new DataView(packed);
  const out = new Uint8Array(packed);
  let o = 0;
  for (const record of records) {
    view.setUint32(o, record.byteLength, true);
    out.set(record, o + 4);
    o += 4 + record.byteLength;
  }
  return packed;
}

/** The records of a packed buffer, as views into it (no copy). */
export function unpackRecords(packed: ArrayBuffer): Uint8Array[] {
  const view = new DataView(packed);
  const records: Uint8Array[] = [];
  for (let o = 0; o + 4 <= packed.byteLength; ) {
    const n = view.getUint32(o, true);
    records.push(new Uint8Array(packed, o + 4, n));
    o += 4 + n;
  }
  return records;
}
