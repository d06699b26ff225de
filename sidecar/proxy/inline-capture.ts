/**
 * The capture channel that runs the tap on the calling thread: exchanges go straight to
 * `onExchange` with the connection's live meta. The sidecar itself captures through the
 * capture worker; this one serves the proxy's and the parsers' tests (exchanges in hand,
 * synchronously) and anything embedding the proxy without threads.
 */
import type { Exchange, NsClock } from '../capture/session.ts';
import type { SidecarStats } from '../metrics.ts';
import type { CaptureChannel } from './capture-channel.ts';
import { CaptureTap, type CaptureFactory } from './capture-tap.ts';
import type { ConnectionMeta } from './connection.ts';

export interface InlineCaptureOptions {
  factory: CaptureFactory;
  clock: NsClock;
  stats: SidecarStats;
  maxBodyBytes: number;
  detectTimeoutMs: number;
  /** A completed exchange (or a connection failure). Must not throw. */
  onExchange: (exchange: Exchange, meta: ConnectionMeta) => void;
}

export function createInlineCapture(options: InlineCaptureOptions): CaptureChannel {
  const { stats, clock } = options;
  return {
    open(meta, direction) {
      const count = (protocol: string) => {
        direction.connectionsByProtocol[protocol] = (direction.connectionsByProtocol[protocol] ?? 0) + 1;
      };
      const openedAt = clock();
      const tap = new CaptureTap({
        factory: options.factory,
        clock,
        maxBodyBytes: options.maxBodyBytes,
        detectTimeoutMs: options.detectTimeoutMs,
        onExchange: (exchange) => options.onExchange(exchange, meta),
        onEvent: (event) => {
          if (event.kind === 'parse_error') stats.parserErrors.parse_error++;
          else if (event.kind === 'capture_overflow') stats.captureOverflow[event.reason] = (stats.captureOverflow[event.reason] ?? 0) + 1;
        },
        onProtocol: count,
        onFault: () => stats.parserErrors.exception++,
      });
      return {
        // The tap reads its own clock: this channel is for tests of the proxy and the parsers.
        clientData: (chunk) => tap.clientData(chunk),
        serverData: (chunk) => tap.serverData(chunk),
        clientEnd: () => tap.clientEnd(),
        serverEnd: () => tap.serverEnd(),
        close(reason) {
          tap.close(reason);
          if (tap.protocol === undefined) count('none');
        },
        disable: () => tap.disable(),
        unreachable: (detail, bytesOut) => tap.unreachable(detail, bytesOut, openedAt),
        metaChanged: () => undefined,
        fact: (fact) => tap.fact(fact),
      };
    },
  };
}
