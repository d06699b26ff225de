/**
 * The gRPC ingest server: `meshtap.v1.Collector/Ship`.
 *
 * Batches of one stream are handled one after the other and acked in order, each after its
 * records are stored. Bytes that do not decode as a batch get an error ack instead of killing
 * the stream (the deserializer is wrapped), so one bad sender costs one counted batch. Batches
 * are decoded by `record/record-reader.ts`, not by proto-loader.
 */
import * as grpc from '@grpc/grpc-js';
import { shutdownGrpcServer } from '../lib/grpc-shutdown.ts';
import { formatHostPort } from '../lib/host-port.ts';
import { loadCollectorProto, type RecordBatchMessage, type ShipAckMessage } from '../record/codec.ts';
import { decodeRecordBatch } from '../record/record-reader.ts';
import type { Ingest } from './ingest.ts';
import { createIngestRateLimiter } from './ingest-rate.ts';
import { streamPeerIdentity } from './ingest-tls.ts';
import type { Logger } from '../lib/log.ts';
import type { CollectorMetrics } from './metrics.ts';

export interface GrpcServerOptions {
  host: string;
  port: number;
  ingest: Ingest;
  metrics: CollectorMetrics;
  log: Logger;
  /** Plaintext when absent; server TLS credentials (mTLS, `loadIngestCredentials`) plug in here. */
  credentials?: grpc.ServerCredentials;
  /** Received batches waiting to be stored per stream before the stream stops reading. */
  maxPendingBatches?: number;
  /** Open ingest streams at most (one per sidecar); beyond it new ones are refused, counted. Default 4096. */
  maxStreams?: number;
  /** Largest batch message taken (bytes); a larger one ends its stream, counted `too_large`. Default 4 MiB. */
  maxMessageBytes?: number;
  /** Records per second per sidecar identity; beyond it records are refused as `rate_limited`. 0 or absent: no limit. */
  maxRecordsPerSecond?: number;
  /** The clock of the rate limit (ms). */
  now?: () => number;
}

export interface GrpcServer {
  port: number;
  /**
   * Graceful: ends every stream once its pending batches are acked, then stops within
   * `graceMs`. `force` drops everything at once, as a crash would.
   */
  close(options?: { graceMs?: number; force?: boolean }): Promise<void>;
}

/** Four times the shipper's largest batch (1 MiB). */
export const DEFAULT_MAX_INGEST_MESSAGE_BYTES = 4 * 1024 * 1024;

const UNDECODABLE = Symbol('undecodable');
const TOO_LARGE = Symbol('too large');
type Incoming = RecordBatchMessage | { [UNDECODABLE]: { detail: string; seq: number } } | { [TOO_LARGE]: { seq: number; bytes: number } };

/** The batch's `seq` (field 1, a varint, written first) without decoding the rest; 0 if absent. */
function peekSeq(bytes: Buffer): number {
  if (bytes[0] !== 0x08) return 0;
  let seq = 0;
  let scale = 1;
  for (let i = 1; i < Math.min(bytes.length, 11); i++) {
    seq += (bytes[i] & 0x7f) * scale;
    if ((bytes[i] & 0x80) === 0) return seq;
    scale *= 128;
  }
  return 0;
}

function buildService(maxMessageBytes: number): grpc.ServiceDefinition {
  const definition = loadCollectorProto()['meshtap.v1.Collector'] as grpc.ServiceDefinition;
  const ship = definition.Ship as grpc.MethodDefinition<RecordBatchMessage, ShipAckMessage>;
  return {
    Ship: {
      ...ship,
      requestDeserialize: (bytes: Buffer): Incoming => {
        if (bytes.length > maxMessageBytes) return { [TOO_LARGE]: { seq: peekSeq(bytes), bytes: bytes.length } };
        try {
          // By hand (record-reader.ts): the same objects proto-loader's deserializer gives, at a fraction of its cost.
          return decodeRecordBatch(bytes);
        } catch (err) {
          // Its seq when the first field was readable, so the sidecar can match the error ack to its batch.
          return { [UNDECODABLE]: { detail: err instanceof Error ? err.message : String(err), seq: peekSeq(bytes) } };
        }
      },
    },
  };
}

export async function startGrpcServer(options: GrpcServerOptions): Promise<GrpcServer> {
  const { ingest, metrics, log } = options;
  const maxPending = options.maxPendingBatches ?? 8;
  const maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_INGEST_MESSAGE_BYTES;
  const server = new grpc.Server({
    // A hard stop well above the limit below (which answers with an ack and keeps the stream).
    'grpc.max_receive_message_length': Math.max(64 * 1024 * 1024, 2 * maxMessageBytes),
    'grpc.keepalive_permit_without_calls': 1,
    'grpc.http2.min_ping_interval_without_data_ms': 10_000,
  });
  /** Open streams and how to end each one gracefully. */
  const streams = new Map<grpc.ServerDuplexStream<Incoming, ShipAckMessage>, () => Promise<void>>();
  let stopping = false;

  const maxStreams = options.maxStreams ?? 4096;
  const limiter = createIngestRateLimiter({ recordsPerSecond: options.maxRecordsPerSecond ?? 0 });
  const now = options.now ?? (() => performance.now());
  /** When each sidecar's refusals were last logged (one line per 10 s each, the counter has them all). */
  const rateLoggedAt = new Map<string, number>();

  /** The batch within its sidecar's rate: the records over it are refused in the ack, counted. */
  async function limited(batch: RecordBatchMessage, peer: string, key: string, identity?: { spiffeId?: string }): Promise<ShipAckMessage> {
    const n = batch.records.length;
    const allowed = limiter.take(key, n, now());
    if (allowed === n) return ingest.batch(batch, peer, identity);
    const over = n - allowed;
    metrics.recordsRejected.inc({ reason: 'rate_limited' }, over);
    const t = now();
    if (t - (rateLoggedAt.get(key) ?? -Infinity) < 10_000) return refuse(batch, allowed, over, peer, identity);
    rateLoggedAt.set(key, t);
    log.warn({ peer, sidecar: key, refused: over, limit_per_second: options.maxRecordsPerSecond }, 'ingest over its rate: records refused');
    return refuse(batch, allowed, over, peer, identity);
  }

  /** Stores the first `allowed` records and acks the rest as `rate_limited`. */
  async function refuse(batch: RecordBatchMessage, allowed: number, over: number, peer: string, identity?: { spiffeId?: string }): Promise<ShipAckMessage> {
    const ack = allowed > 0 ? await ingest.batch({ ...batch, records: batch.records.slice(0, allowed) }, peer, identity) : { seq: batch.seq, accepted: 0, rejected: 0, rejections: [] };
    const rejections = [...(ack.rejections ?? [])];
    for (let index = allowed; index < allowed + over; index++) rejections.push({ index, reason: 'rate_limited' });
    return { ...ack, rejected: (ack.rejected ?? 0) + over, rejections };
  }

  function ship(call: grpc.ServerDuplexStream<Incoming, ShipAckMessage>): void {
    const peer = call.getPeer();
    if (streams.size >= maxStreams) {
      // RESOURCE_EXHAUSTED: the shipper backs off and retries; its records wait in its bounded queue.
      metrics.streamsRefused.inc();
      log.warn({ peer, maxStreams }, 'ingest stream refused: too many open streams');
      call.emit('error', { code: grpc.status.RESOURCE_EXHAUSTED, details: `the collector holds ${maxStreams} ingest streams already` });
      return;
    }
    // Over mTLS, which workload is shipping: one line per stream (a sidecar keeps one open).
    const identity = streamPeerIdentity(call.getAuthContext().sslPeerCertificate);
    if (identity) log.info({ peer, spiffe_id: identity.spiffeId ?? null, serial: identity.serial }, 'ingest stream');
    // Over mTLS each record must come from the workload the certificate names; plaintext ingest
    // (a collector without TLS settings) cannot tell and does not check.
    const streamIdentity = identity ? { ...(identity.spiffeId !== undefined ? { spiffeId: identity.spiffeId } : {}) } : undefined;
    const rateKey = identity?.spiffeId ?? peer.replace(/:\d+$/, '');
    metrics.streamsActive.inc();
    metrics.streamsTotal.inc();
    let chain: Promise<void> = Promise.resolve();
    let pending = 0;
    let over = false;
    let ended = false;
    const done = (): void => {
      if (over) return;
      over = true;
      streams.delete(call);
      metrics.streamsActive.dec();
    };
    const endStream = async (): Promise<void> => {
      await chain;
      if (!ended && !over) {
        ended = true;
        call.end();
      }
    };
    streams.set(call, endStream);
    // Headers now, so the sidecar sees the stream accepted before its first ack.
    call.sendMetadata(new grpc.Metadata());

    call.on('data', (incoming: Incoming) => {
      if (ended) return;
      pending++;
      if (pending >= maxPending) call.pause();
      chain = chain.then(async () => {
        try {
          const ack =
            UNDECODABLE in incoming
              ? ingest.undecodable(peer, incoming[UNDECODABLE].detail, incoming[UNDECODABLE].seq)
              : TOO_LARGE in incoming
                ? ingest.tooLarge(peer, incoming[TOO_LARGE].seq, incoming[TOO_LARGE].bytes, maxMessageBytes)
                : await limited(incoming, peer, rateKey, streamIdentity);
          if (!over && !ended) call.write(ack);
        } catch (err) {
          // ingest does not throw; if it ever does, this stream is dropped, the server keeps serving.
          log.error({ peer, detail: err instanceof Error ? err.message : String(err) }, 'ingest failed');
          if (!over) call.destroy(err instanceof Error ? err : new Error(String(err)));
        } finally {
          pending--;
          if (pending < maxPending) call.resume();
        }
      });
    });
    call.on('end', () => void endStream());
    call.on('error', (err) => {
      log.debug?.({ peer, detail: err.message }, 'ingest stream error');
      done();
    });
    call.on('cancelled', done);
    call.on('finish', done);
    call.on('close', done);
    if (stopping) void endStream();
  }

  server.addService(buildService(maxMessageBytes), { Ship: ship } as unknown as grpc.UntypedServiceImplementation);
  const address = formatHostPort(options.host, options.port);
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(address, options.credentials ?? grpc.ServerCredentials.createInsecure(), (err, bound) => (err ? reject(err) : resolve(bound)));
  });

  return {
    port,
    async close({ graceMs = 5000, force = false } = {}) {
      stopping = true;
      if (force) {
        server.forceShutdown();
        for (const call of streams.keys()) streams.delete(call);
        return;
      }
      await Promise.race([Promise.all([...streams.values()].map((end) => end())), new Promise((r) => setTimeout(r, graceMs).unref())]);
      await shutdownGrpcServer(server, graceMs);
    },
  };
}
