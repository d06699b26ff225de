/**
 * The shipper's connection to the collector: one gRPC channel and one `Collector.Ship`
 * bidirectional stream per connection attempt.
 *
 * Each attempt gets a fresh channel with a local subchannel pool, so reconnect timing is the
 * shipper's backoff alone (grpc-js would otherwise apply its own, up to minutes, to a shared
 * subchannel), and a refused connection fails the attempt at once instead of waiting for the
 * connect timeout.
 */
import * as grpc from '@grpc/grpc-js';
import type { ShipAckMessage } from '../../record/codec.ts';
import { clientMethod } from '../../record/client-method.ts';
import { decodeShipAck } from '../../record/record-reader.ts';
import { encodeRecordBatch, encodeSidecarInfo } from '../../record/record-writer.ts';
import type { EncodedBatch, ShipStream, ShipStreamHandlers, ShipTransport } from './transport.ts';

/** A batch framed from its encoded parts (no record is encoded again). */
const serializeBatch = (batch: EncodedBatch): Buffer => encodeRecordBatch(batch.seq, batch.sidecar, batch.records);

export interface GrpcTransportOptions {
  /** host:port */
  address: string;
  /**
   * Plaintext when absent. A function is called for every connection attempt, so a rotated
   * client certificate is used by the next stream; if it throws (or rejects), that attempt fails.
   */
  credentials?: grpc.ChannelCredentials | CredentialsProvider;
  connectTimeoutMs: number;
  /** Extra channel options, e.g. `grpc.ssl_target_name_override`. */
  channelOptions?: grpc.ChannelOptions;
}

export type CredentialsProvider = () => grpc.ChannelCredentials | Promise<grpc.ChannelCredentials>;

type ShipCall = grpc.ClientDuplexStream<EncodedBatch, ShipAckMessage>;
type CollectorClient = grpc.Client & { Ship(options?: grpc.CallOptions): ShipCall };
type CollectorClientConstructor = new (address: string, credentials: grpc.ChannelCredentials, options?: grpc.ChannelOptions) => CollectorClient;

/**
 * `meshtap.v1.Collector` as the shipper uses it: the one method, with the hand-written writer
 * framing batches from their encoded records and the hand-written reader decoding acks, so
 * neither the `.proto` files nor protobufjs are loaded where the shipper runs (the capture
 * worker). `test/sidecar/shipper/ship-ack.test.ts` checks both against the official `.proto`.
 */
export const COLLECTOR_SERVICE: grpc.ServiceDefinition = {
  Ship: clientMethod({ service: 'meshtap.v1.Collector', method: 'Ship', requestStream: true, responseStream: true, serialize: serializeBatch, deserialize: decodeShipAck }),
};

let clientConstructor: CollectorClientConstructor | undefined;

function collectorClientConstructor(): CollectorClientConstructor {
  clientConstructor ??= grpc.makeGenericClientConstructor(COLLECTOR_SERVICE, 'meshtap.v1.Collector') as unknown as CollectorClientConstructor;
  return clientConstructor;
}

const DEFAULT_CHANNEL_OPTIONS: grpc.ChannelOptions = {
  'grpc.use_local_subchannel_pool': 1,
  'grpc.keepalive_time_ms': 30_000,
  'grpc.keepalive_timeout_ms': 10_000,
  'grpc.keepalive_permit_without_calls': 1,
  'grpc.max_send_message_length': 64 * 1024 * 1024,
  'grpc.max_receive_message_length': 4 * 1024 * 1024,
};

function waitUntilReady(client: grpc.Client, timeoutMs: number): Promise<void> {
  const channel = client.getChannel();
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const check = (): void => {
      let state: grpc.connectivityState;
      try {
        state = channel.getConnectivityState(true);
      } catch (err) {
        reject(err instanceof Error ? err : new Error(String(err)));
        return;
      }
      if (state === grpc.connectivityState.READY) return resolve();
      if (state === grpc.connectivityState.TRANSIENT_FAILURE) return reject(new Error('collector unreachable'));
      if (state === grpc.connectivityState.SHUTDOWN) return reject(new Error('channel closed'));
      channel.watchConnectivityState(state, deadline, (err) => {
        if (err) reject(new Error(`collector not ready within ${timeoutMs} ms`));
        else check();
      });
    };
    check();
  });
}

export function createGrpcTransport(options: GrpcTransportOptions): ShipTransport {
  const Client = collectorClientConstructor();
  const fixed = typeof options.credentials === 'function' ? undefined : (options.credentials ?? grpc.credentials.createInsecure());
  const provide = typeof options.credentials === 'function' ? options.credentials : undefined;
  const clients = new Set<grpc.Client>();
  let closed = false;

  function release(client: grpc.Client): void {
    if (clients.delete(client)) client.close();
  }

  return {
    async connect(handlers: ShipStreamHandlers): Promise<ShipStream> {
      if (closed) throw new Error('transport closed');
      const credentials = provide ? await provide() : fixed!;
      if (closed) throw new Error('transport closed');
      const client = new Client(options.address, credentials, { ...DEFAULT_CHANNEL_OPTIONS, ...options.channelOptions });
      clients.add(client);
      try {
        await waitUntilReady(client, options.connectTimeoutMs);
      } catch (err) {
        release(client);
        throw err;
      }
      if (closed) {
        release(client);
        throw new Error('transport closed');
      }
      const call = client.Ship();
      let finished = false;
      const finish = (reason: string): void => {
        if (finished) return;
        finished = true;
        release(client);
        handlers.onClose(reason);
      };
      call.on('data', (ack: ShipAckMessage) => {
        if (!finished) handlers.onAck(ack);
      });
      // 'status' always comes last; 'error' only needs a listener so it is not thrown.
      call.on('error', () => {});
      call.on('status', (status: grpc.StatusObject) => {
        finish(status.code === grpc.status.OK ? 'ended by collector' : `${grpc.status[status.code] ?? status.code}: ${status.details}`);
      });
      return {
        send(batch) {
          if (finished) throw new Error('stream closed');
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
      for (const client of [...clients]) release(client);
    },
    encodeSidecar: encodeSidecarInfo,
  };
}
