/**
 * A batch of Loki entries → the body of one `POST /loki/api/v1/push`.
 *
 * protobuf: `logproto.PushRequest` (streams → labels string and entries with timestamp, line
 * and structured metadata), snappy block-compressed, `Content-Type: application/x-protobuf`.
 * Written field by field with protobufjs' writer: the message has five small types, and
 * loading Loki's .proto at runtime would need its gogo and google imports shipped too.
 *
 * json: `{"streams":[{"stream":{labels},"values":[["<ns>","<line>",{metadata}]]}]}`, gzip.
 */
import { Buffer } from 'node:buffer';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import protobuf from 'protobufjs/minimal.js';
import { compress as snappyCompress } from 'snappyjs';
import type { LokiEntry, LokiLabels } from './entry.ts';

export type LokiEncoding = 'protobuf' | 'json';

export interface LokiStream {
  /** `{k="v", ...}` */
  stream: string;
  labels: LokiLabels;
  /** Oldest first. */
  entries: LokiEntry[];
}

export interface EncodedPush {
  body: Uint8Array;
  headers: Record<string, string>;
  entries: number;
}

const gzipAsync = promisify(gzip);
const NS_PER_SECOND = 1_000_000_000n;

/** Groups entries by stream, first-seen stream order, entries sorted by time within a stream. */
export function groupStreams(entries: readonly LokiEntry[]): LokiStream[] {
  const byKey = new Map<string, LokiStream>();
  for (const entry of entries) {
    let s = byKey.get(entry.stream);
    if (!s) {
      s = { stream: entry.stream, labels: entry.labels, entries: [] };
      byKey.set(entry.stream, s);
    }
    s.entries.push(entry);
  }
  const streams = [...byKey.values()];
  for (const s of streams) {
    // Loki accepts out-of-order writes only within a window, so each stream goes oldest first.
    s.entries.sort((a, b) => {
      const x = BigInt(a.timestampNs);
      const y = BigInt(b.timestampNs);
      return x < y ? -1 : x > y ? 1 : 0;
    });
  }
  return streams;
}

// Wire type 2 (length-delimited) tags: (field << 3) | 2; wire type 0 (varint): field << 3.
const TAG_PUSH_STREAMS = (1 << 3) | 2;
const TAG_STREAM_LABELS = (1 << 3) | 2;
const TAG_STREAM_ENTRIES = (2 << 3) | 2;
const TAG_ENTRY_TIMESTAMP = (1 << 3) | 2;
const TAG_ENTRY_LINE = (2 << 3) | 2;
const TAG_ENTRY_METADATA = (3 << 3) | 2;
const TAG_TIMESTAMP_SECONDS = 1 << 3;
const TAG_TIMESTAMP_NANOS = 2 << 3;
const TAG_PAIR_NAME = (1 << 3) | 2;
const TAG_PAIR_VALUE = (2 << 3) | 2;

/** The uncompressed `logproto.PushRequest` bytes. */
export function encodePushRequest(streams: readonly LokiStream[]): Uint8Array {
  const w = protobuf.Writer.create();
  for (const s of streams) {
    w.uint32(TAG_PUSH_STREAMS).fork();
    w.uint32(TAG_STREAM_LABELS).string(s.stream);
    for (const e of s.entries) {
      w.uint32(TAG_STREAM_ENTRIES).fork();
      const ns = BigInt(e.timestampNs);
      const seconds = ns / NS_PER_SECOND;
      const nanos = Number(ns % NS_PER_SECOND);
      // google.protobuf.Timestamp; proto3 leaves zero fields out.
      w.uint32(TAG_ENTRY_TIMESTAMP).fork();
      if (seconds !== 0n) w.uint32(TAG_TIMESTAMP_SECONDS).int64(seconds.toString());
      if (nanos !== 0) w.uint32(TAG_TIMESTAMP_NANOS).int32(nanos);
      w.ldelim();
      w.uint32(TAG_ENTRY_LINE).string(e.line);
      for (const [name, value] of e.metadata) {
        w.uint32(TAG_ENTRY_METADATA).fork();
        w.uint32(TAG_PAIR_NAME).string(name);
        w.uint32(TAG_PAIR_VALUE).string(value);
        w.ldelim();
      }
      w.ldelim();
    }
    w.ldelim();
  }
  return w.finish();
}

/** The JSON push document (uncompressed). */
export function encodePushJson(streams: readonly LokiStream[]): string {
  return JSON.stringify({
    streams: streams.map((s) => ({
      stream: s.labels,
      values: s.entries.map((e) =>
        e.metadata.length > 0 ? [e.timestampNs, e.line, Object.fromEntries(e.metadata)] : [e.timestampNs, e.line],
      ),
    })),
  });
}

/** The request body and its content headers for one batch. */
export async function encodePush(entries: readonly LokiEntry[], encoding: LokiEncoding): Promise<EncodedPush> {
  const streams = groupStreams(entries);
  if (encoding === 'json') {
    const body = await gzipAsync(Buffer.from(encodePushJson(streams)));
    return {
      body,
      headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
      entries: entries.length,
    };
  }
  const raw = encodePushRequest(streams);
  const body = snappyCompress(Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength));
  return { body, headers: { 'content-type': 'application/x-protobuf' }, entries: entries.length };
}
