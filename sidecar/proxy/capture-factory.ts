/**
 * The real parsers behind the tap: the detectors, and a session per detected protocol — HTTP/1
 * (with WebSocket and h2c after an upgrade), HTTP/2 (gRPC calls decoded on top), Redis,
 * PostgreSQL, MySQL (from the server's greeting), app TLS handshake metadata (passed-through TLS), and opaque sessions for
 * everything else. The Redis, PostgreSQL and MySQL sessions mask secrets while parsing, under the
 * masking policy given here (the one the records are masked with afterwards).
 */
import { detectProtocol, detectServerFirst } from '../capture/detect.ts';
import { createOpaqueSession } from '../capture/opaque.ts';
import type { CaptureContext, CaptureSession } from '../capture/session.ts';
import type { GrpcSchema } from '../grpc/descriptors.ts';
import type { MaskPolicy } from '../mask/policy.ts';
import { toGrpcExchange } from '../grpc/grpc-exchange.ts';
import { createH2cUpgradeSession, createHttp2Session } from '../http2/session.ts';
import { createHttp1Session } from '../http1/session.ts';
import type { UpgradeSessionFactory } from '../http1/upgrade.ts';
import { HeldBytes } from '../capture/held-bytes.ts';
import { DEFAULT_HELD_FRAME_BYTES } from '../mysql/compressed.ts';
import { createMysqlSession } from '../mysql/session.ts';
import { createPostgresSession } from '../postgres/session.ts';
import { createRedisSession } from '../redis/session.ts';
import { createAppTlsSession } from '../tls/session.ts';
import { createWebSocketSession } from '../websocket/session.ts';
import type { CaptureFactory } from './capture-tap.ts';

export interface CaptureFactoryOptions {
  /** gRPC schemas (from FileDescriptorSets): messages of known methods get field names. */
  grpcSchema?: GrpcSchema;
  /**
   * Bytes of MySQL compressed frames held until complete by every connection together
   * (default `DEFAULT_HELD_FRAME_BYTES`): one bound for the sessions this factory makes.
   */
  heldFrameBytes?: number;
  /**
   * The sidecar's masking policy, for the sessions that mask inside their own parsing (Redis
   * field and key names, SQL columns, whether to mask at all). Default: the default policy.
   */
  maskPolicy?: MaskPolicy;
}

export function createCaptureFactory(options: CaptureFactoryOptions = {}): CaptureFactory {
  const heldFrames = new HeldBytes(options.heldFrameBytes ?? DEFAULT_HELD_FRAME_BYTES);
  const { maskPolicy } = options;
  // One options object per protocol for all its sessions.
  const masking = maskPolicy === undefined ? {} : { maskPolicy };
  const mysqlOptions = { heldFrames, ...masking };
  /** HTTP/2 exchanges that carry gRPC become `grpc` records with their messages decoded. */
  const withGrpc = (ctx: CaptureContext): CaptureContext => ({
    ...ctx,
    emit: (e) => ctx.emit(e.protocol === 'grpc' ? toGrpcExchange(e, ctx.maxBodyBytes, options.grpcSchema) : e),
  });
  const upgradeSession: UpgradeSessionFactory = (ctx, upgrade) => {
    if (upgrade.protocol === 'websocket') return createWebSocketSession(ctx, upgrade);
    if (upgrade.protocol === 'h2c') {
      const r = upgrade.request;
      return createH2cUpgradeSession(withGrpc(ctx), { method: r.method ?? 'GET', path: r.path ?? '/', authority: r.authority, headers: r.headers, body: r.body, start: upgrade.at });
    }
    return undefined;
  };
  return {
    detect: detectProtocol,
    detectServerFirst,
    createSession: (protocol, ctx): CaptureSession => {
      switch (protocol) {
        case 'http':
          return createHttp1Session(ctx, { upgradeSession });
        case 'http2':
          return createHttp2Session(withGrpc(ctx));
        case 'redis':
          return createRedisSession(ctx, masking);
        case 'postgres':
          return createPostgresSession(ctx, masking);
        case 'mysql':
          return createMysqlSession(ctx, mysqlOptions);
        case 'tls':
          return createAppTlsSession(ctx);
        default:
          return createOpaqueSession(ctx, protocol);
      }
    },
  };
}
