/**
 * Capture for connections we do not parse (unknown protocols, app TLS, the tail of an
 * upgraded HTTP/1 connection): count bytes each way and emit one exchange when it closes.
 */
import type { Protocol } from '../../record/record.ts';
import type { CaptureContext, CaptureSession, CloseReason, Exchange } from './session.ts';

export interface OpaqueSessionOptions {
  /** When the connection (or the upgraded stream) began; defaults to the first call's time. */
  start?: bigint;
  /** Ordinal of the one exchange; defaults to 0. */
  ordinal?: number;
  /** Bytes already seen before this session took over. */
  bytesOut?: number;
  bytesIn?: number;
}

export function createOpaqueSession(
  ctx: CaptureContext,
  protocol: Protocol = 'tcp',
  options: OpaqueSessionOptions = {},
): CaptureSession {
  let start = options.start;
  let bytesOut = options.bytesOut ?? 0;
  let bytesIn = options.bytesIn ?? 0;
  let closed = false;

  const touch = (now: bigint): void => {
    start ??= now;
  };

  return {
    clientData(chunk, now) {
      if (closed) return;
      touch(now);
      bytesOut += chunk.byteLength;
    },
    serverData(chunk, now) {
      if (closed) return;
      touch(now);
      bytesIn += chunk.byteLength;
    },
    skipClient(n, now) {
      if (closed) return true;
      touch(now);
      bytesOut += n;
      return true;
    },
    skipServer(n, now) {
      if (closed) return true;
      touch(now);
      bytesIn += n;
      return true;
    },
    clientEnd(now) {
      touch(now);
    },
    serverEnd(now) {
      touch(now);
    },
    close(now: bigint, reason: CloseReason) {
      if (closed) return;
      closed = true;
      touch(now);
      const exchange: Exchange = {
        protocol,
        ordinal: options.ordinal ?? 0,
        start: start ?? now,
        end: now,
        bytes_out: bytesOut,
        bytes_in: bytesIn,
        close_reason: reason,
      };
      if (reason === 'reset') exchange.error = 'reset';
      else if (reason === 'timeout') exchange.error = 'timeout';
      else if (reason === 'capture_overflow') exchange.error = 'capture_overflow';
      try {
        ctx.emit(exchange);
      } catch {
        // The sink's failure is not the connection's: never throw into the proxy.
      }
    },
  };
}
