/**
 * The shipper's connection to the collector: one HTTP/2 connection and one `Collector.Ship`
 * bidirectional stream per connection attempt, with the pod's own gRPC client
 * (`lib/grpc-client/`: the capture worker does not load grpc-js).
 *
 * Each attempt gets a fresh connection, so reconnect timing is the shipper's backoff alone, and
 * a refused connection fails the attempt at once instead of waiting for the connect timeout.
 */
import type { ShipAckMessage } from '../../record/codec.ts';
import { clientMethod } from '../../record/client-method.ts';
import { decodeShipAck } from '../../record/record-reader.ts';
import { encodeRecordBatch, encodeSidecarInfo } from '../../record/record-writer.ts';
import { startCall } from '../../lib/grpc-client/call.ts';
import { BufferPool } from '../../lib/grpc-client/buffer-pool.ts';
import { FRAME_HEADER_BYTES } from '../../lib/grpc-client/framing.ts';
import { connectGrpc, type GrpcConnection, type GrpcTlsOptions } from '../../lib/grpc-client/connection.ts';
import { GRPC_STATUS, statusName } from '../../lib/grpc-client/status.ts';
import type { EncodedBatch, ShipStream, ShipStreamHandlers, ShipTransport } from './transport.ts';

/** A batch framed from its encoded parts (no record is encoded again). */
const serializeBatch = (batch: EncodedBatch): Buffer => encodeRecordBatch(batch.seq, batch.sidecar, batch.records);
/** The same bytes with the gRPC frame's prefix left free, so the call frames the batch without copying it. */
const serializeBatchWithHeadroom = (batch: EncodedBatch): Buffer => encodeRecordBatch(batch.seq, batch.sidecar, batch.records, FRAME_HEADER_BYTES);

/** TLS to the collector: its roots, the workload certificate for mTLS, the name to check. */
export type ShipCredentials = GrpcTlsOptions;

export interface GrpcTransportOptions {
  /** host:port */
  address: string;
  /**
   * Plaintext when absent (or when the provider answers undefined). A function is called for
   * every connection attempt, so a rotated client certificate is used by the next stream; if it
   * throws (or rejects), that attempt fails.
   */
  credentials?: ShipCredentials | CredentialsProvider;
  connectTimeoutMs: number;
  /** HTTP/2 pings while connected (default every 30 s, 10 s to answer), so a dead collector is noticed without traffic. */
  keepalive?: { intervalMs: number; timeoutMs: number };
  /** Where serialized batches are written (default: a pool of its own; tests pass one to watch it). */
  batchBuffers?: BufferPool;
}

export type CredentialsProvider = () => ShipCredentials | undefined | Promise<ShipCredentials | undefined>;

/**
 * `meshtap.v1.Collector` as the shipper uses it: the one method, with the hand-written writer
 * framing batches from their encoded records and the hand-written reader decoding acks, so
 * neither the `.proto` files nor protobufjs are loaded where the shipper runs (the capture
 * worker). `test/sidecar/shipper/ship-ack.test.ts` checks both against the official `.proto`.
 */
export const COLLECTOR_SERVICE = {
  Ship: clientMethod({
    service: 'meshtap.v1.Collector',
    method: 'Ship',
    requestStream: true,
    responseStream: true,
    serialize: serializeBatch,
    serializeWithHeadroom: serializeBatchWithHeadroom,
    deserialize: decodeShipAck,
  }),
};

/**
 * `COLLECTOR_SERVICE.Ship` with its batches serialized into `pool`'s buffers, each reused once
 * its write is done: a batch is hundreds of KiB several times a second, fresh pages each time
 * otherwise (`lib/grpc-client/buffer-pool.ts`).
 */
function pooledShip(pool: BufferPool): typeof COLLECTOR_SERVICE.Ship {
  return {
    ...COLLECTOR_SERVICE.Ship,
    requestSerializeWithHeadroom: (batch: EncodedBatch) => encodeRecordBatch(batch.seq, batch.sidecar, batch.records, FRAME_HEADER_BYTES, (size) => pool.acquire(size)),
    releaseSerialized: (buffer: Buffer) => pool.release(buffer),
  };
}

const DEFAULT_KEEPALIVE = { intervalMs: 30_000, timeoutMs: 10_000 };
/** Acks are small; this only bounds what a confused peer can make us buffer. */
const MAX_RECEIVE_BYTES = 4 * 1024 * 1024;

export function createGrpcTransport(options: GrpcTransportOptions): ShipTransport {
  const fixed = typeof options.credentials === 'function' ? undefined : options.credentials;
  const provide = typeof options.credentials === 'function' ? options.credentials : undefined;
  const connections = new Set<GrpcConnection>();
  const ship = pooledShip(options.batchBuffers ?? new BufferPool());
  let closed = false;

  function release(connection: GrpcConnection): void {
    if (connections.delete(connection)) connection.destroy();
  }

  return {
    async connect(handlers: ShipStreamHandlers): Promise<ShipStream> {
      if (closed) throw new Error('transport closed');
      const tls = provide ? await provide() : fixed;
      if (closed) throw new Error('transport closed');
      const connection = await connectGrpc({
        address: options.address,
        tls,
        connectTimeoutMs: options.connectTimeoutMs,
        keepalive: options.keepalive ?? DEFAULT_KEEPALIVE,
      });
      connections.add(connection);
      if (closed) {
        release(connection);
        throw new Error('transport closed');
      }
      let finished = false;
      const call = startCall(connection, ship, { maxReceiveMessageBytes: MAX_RECEIVE_BYTES }, {
        onMessage(ack: ShipAckMessage) {
          if (!finished) handlers.onAck(ack);
        },
        onStatus(status) {
          if (finished) return;
          finished = true;
          release(connection);
          handlers.onClose(status.code === GRPC_STATUS.OK ? 'ended by collector' : `${statusName(status.code)}: ${status.details}`);
        },
      });
      return {
        send(batch) {
          if (finished) throw new Error('stream closed');
          // The shipper bounds what is in flight (maxInFlightBatches) and acks pace it, so the
          // stream's own buffer is not waited on, as with grpc-js before.
          call.write(batch);
        },
        end() {
          if (!finished) call.end();
        },
        cancel() {
          if (!finished) call.cancel();
        },
      };
    },
    close() {
      closed = true;
      for (const connection of [...connections]) release(connection);
    },
    encodeSidecar: encodeSidecarInfo,
  };
}
