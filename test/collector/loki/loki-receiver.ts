/**
 * A Loki push endpoint for tests: a real HTTP server on loopback that decodes pushes the way
 * Loki does, with Loki's own `logproto.proto` (the copy `loki-grpc-client` ships) for
 * protobuf+snappy and the documented JSON form for JSON+gzip. Each answer can be scripted.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import protobuf from 'protobufjs';

const require = createRequire(import.meta.url);

function loadLogproto(): protobuf.Type {
  const protoDir = path.dirname(require.resolve('loki-grpc-client/proto/logproto.proto'));
  const protobufDir = path.dirname(require.resolve('protobufjs/package.json'));
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => {
    if (path.isAbsolute(target)) return target;
    return target.startsWith('google/') ? path.join(protobufDir, target) : path.join(protoDir, target);
  };
  root.loadSync(path.join(protoDir, 'logproto.proto'), { keepCase: true });
  return root.lookupType('logproto.PushRequest');
}

export const PushRequest = loadLogproto();

function readVarint(buf: Uint8Array, pos: number): [number, number] {
  let result = 0;
  let shift = 0;
  for (;;) {
    const b = buf[pos++];
    assert.ok(b !== undefined, 'snappy: truncated varint');
    result += (b & 0x7f) * 2 ** shift;
    if ((b & 0x80) === 0) return [result, pos];
    shift += 7;
  }
}

/**
 * Snappy block format decoder written from the format description, independent of the
 * compressor under test: a varint length, then literals and back-references.
 */
export function snappyDecode(input: Uint8Array): Uint8Array {
  const [length, start] = readVarint(input, 0);
  const out = new Uint8Array(length);
  let o = 0;
  let i = start;
  while (i < input.length) {
    const tag = input[i++];
    const kind = tag & 3;
    if (kind === 0) {
      let len = tag >> 2;
      if (len >= 60) {
        const extra = len - 59;
        len = 0;
        for (let k = 0; k < extra; k++) len |= input[i++] << (8 * k);
      }
      len += 1;
      assert.ok(i + len <= input.length && o + len <= length, 'snappy: literal out of range');
      out.set(input.subarray(i, i + len), o);
      i += len;
      o += len;
      continue;
    }
    let len: number;
    let offset: number;
    if (kind === 1) {
      len = 4 + ((tag >> 2) & 7);
      offset = ((tag >> 5) << 8) | input[i++];
    } else if (kind === 2) {
      len = (tag >> 2) + 1;
      offset = input[i] | (input[i + 1] << 8);
      i += 2;
    } else {
      len = (tag >> 2) + 1;
      offset = (input[i] | (input[i + 1] << 8) | (input[i + 2] << 16) | (input[i + 3] << 24)) >>> 0;
      i += 4;
    }
    assert.ok(offset > 0 && offset <= o && o + len <= length, 'snappy: copy out of range');
    for (let k = 0; k < len; k++, o++) out[o] = out[o - offset];
  }
  assert.equal(o, length, 'snappy: decoded length differs from the preamble');
  return out;
}

/** Parses Loki's `{a="x", b="y"}` stream selector form. */
export function parseLabels(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const re = /\s*([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"\s*(,|})/y;
  assert.ok(text.startsWith('{'), `labels must start with {: ${text}`);
  re.lastIndex = 1;
  let m: RegExpExecArray | null;
  let end = false;
  while (!end && (m = re.exec(text))) {
    out[m[1]] = m[2].replace(/\\(.)/g, (_s, c: string) => (c === 'n' ? '\n' : c));
    end = m[3] === '}';
  }
  assert.ok(end && re.lastIndex === text.length, `unparsable labels: ${text}`);
  return out;
}

export interface ReceivedEntry {
  ts: string;
  line: string;
  metadata: Record<string, string>;
}

export interface ReceivedStream {
  labels: Record<string, string>;
  /** The labels string as sent (protobuf only). */
  rawLabels?: string;
  entries: ReceivedEntry[];
}

export interface ReceivedPush {
  encoding: 'protobuf' | 'json';
  headers: http.IncomingHttpHeaders;
  streams: ReceivedStream[];
}

function decodeProtobuf(body: Buffer): ReceivedStream[] {
  const message = PushRequest.decode(snappyDecode(body));
  const obj = PushRequest.toObject(message, { longs: String, defaults: true, arrays: true }) as {
    streams: Array<{
      labels: string;
      entries: Array<{ timestamp: { seconds: string; nanos: number }; line: string; structuredMetadata: Array<{ name: string; value: string }> }>;
    }>;
  };
  return obj.streams.map((s) => ({
    labels: parseLabels(s.labels),
    rawLabels: s.labels,
    entries: s.entries.map((e) => ({
      ts: (BigInt(e.timestamp.seconds) * 1_000_000_000n + BigInt(e.timestamp.nanos)).toString(),
      line: e.line,
      metadata: Object.fromEntries(e.structuredMetadata.map((p) => [p.name, p.value])),
    })),
  }));
}

function decodeJson(body: Buffer, gzipped: boolean): ReceivedStream[] {
  const doc = JSON.parse((gzipped ? gunzipSync(body) : body).toString('utf8')) as {
    streams: Array<{ stream: Record<string, string>; values: Array<[string, string, Record<string, string>?]> }>;
  };
  return doc.streams.map((s) => ({
    labels: s.stream,
    entries: s.values.map((v) => {
      assert.equal(typeof v[0], 'string', 'JSON timestamps are strings');
      return { ts: v[0], line: v[1], metadata: v[2] ?? {} };
    }),
  }));
}

export interface Reply {
  status: number;
  headers?: Record<string, string>;
  body?: string;
}

export interface LokiReceiver {
  /** Base URL, e.g. `http://127.0.0.1:41234`. */
  url: string;
  port: number;
  pushes: ReceivedPush[];
  /** Requests the receiver could not decode (they were answered 400). */
  errors: string[];
  /** Every request, answered with a success or not. */
  requests: number;
  /** All entries of successful pushes, in arrival order. */
  entries(): Array<ReceivedEntry & { labels: Record<string, string> }>;
  close(): Promise<void>;
}

/**
 * `reply(n)` decides the answer to the n-th request (from 0); undefined → 204, as Loki does.
 * A push is recorded in `pushes` only when answered 2xx.
 */
export async function startLokiReceiver(reply: (n: number) => Reply | undefined = () => undefined): Promise<LokiReceiver> {
  const pushes: ReceivedPush[] = [];
  const errors: string[] = [];
  let requests = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const n = requests++;
      const r = reply(n) ?? { status: 204 };
      try {
        assert.equal(req.method, 'POST');
        assert.equal(req.url, '/loki/api/v1/push');
        const body = Buffer.concat(chunks);
        const type = req.headers['content-type'];
        let streams: ReceivedStream[];
        let encoding: ReceivedPush['encoding'];
        if (type === 'application/x-protobuf') {
          encoding = 'protobuf';
          streams = decodeProtobuf(body);
        } else {
          assert.equal(type, 'application/json');
          encoding = 'json';
          streams = decodeJson(body, req.headers['content-encoding'] === 'gzip');
        }
        if (r.status >= 200 && r.status < 300) pushes.push({ encoding, headers: req.headers, streams });
      } catch (err) {
        errors.push((err as Error).message);
        res.writeHead(400, { 'content-type': 'text/plain' }).end(`test receiver: ${(err as Error).message}`);
        return;
      }
      res.writeHead(r.status, { 'content-type': 'text/plain', ...r.headers }).end(r.body ?? '');
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    pushes,
    errors,
    get requests() {
      return requests;
    },
    entries() {
      return pushes.flatMap((p) => p.streams.flatMap((s) => s.entries.map((e) => ({ ...e, labels: s.labels }))));
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
