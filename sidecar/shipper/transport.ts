import type { ShipAckMessage, SidecarInfoMessage } from '../../record/codec.ts';

/** A `RecordBatch` from pre-encoded parts: the transport frames it without re-encoding a record. */
export interface EncodedBatch {
  seq: number;
  /** The encoded `SidecarInfo`. */
  sidecar: Uint8Array;
  /** Encoded `CallRecord` messages. */
  records: readonly Uint8Array[];
}

/** One open ingest stream. */
export interface ShipStream {
  /** Queues a batch on the stream; may throw if the stream is already gone. */
  send(batch: EncodedBatch): void;
  /** Half-closes after what was sent; the collector acks it and ends the stream. */
  end(): void;
  /** Abandons the stream now. */
  cancel(): void;
}

export interface ShipStreamHandlers {
  onAck(ack: ShipAckMessage): void;
  /** Called exactly once, after `connect` resolved, when the stream ended or broke for any reason. */
  onClose(reason: string): void;
}

/** How the shipper reaches a collector. The gRPC one is the real one; tests may supply their own. */
export interface ShipTransport {
  /** Resolves once a stream is open; rejects when the collector cannot be reached. */
  connect(handlers: ShipStreamHandlers): Promise<ShipStream>;
  /** Releases every connection, including pending attempts. */
  close(): void;
  /** The `SidecarInfo` as the batches carry it (encoded once). */
  encodeSidecar(info: SidecarInfoMessage): Uint8Array;
}
