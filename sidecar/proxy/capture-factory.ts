/**
 * The real parsers behind the tap: the detector, HTTP/1 sessions, app TLS handshake
 * metadata (passed-through TLS), and opaque sessions for everything else (HTTP/2 gets its own
 * parser later; until then it is opaque with the right protocol label).
 */
import { detectProtocol } from '../capture/detect.ts';
import { createOpaqueSession } from '../capture/opaque.ts';
import { createHttp1Session } from '../http1/session.ts';
import { createAppTlsSession } from '../tls/session.ts';
import type { CaptureFactory } from './capture-tap.ts';

export function createCaptureFactory(): CaptureFactory {
  return {
    detect: detectProtocol,
    createSession: (protocol, ctx) =>
      protocol === 'http' ? createHttp1Session(ctx) : protocol === 'tls' ? createAppTlsSession(ctx) : createOpaqueSession(ctx, protocol),
  };
}
