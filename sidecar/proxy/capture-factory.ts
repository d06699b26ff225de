/**
 * The real parsers behind the tap: the detector, HTTP/1 sessions, and opaque sessions for
 * everything else (HTTP/2 and app TLS get their own parsers later; until then they are opaque
 * with the right protocol label).
 */
import { detectProtocol } from '../capture/detect.ts';
import { createOpaqueSession } from '../capture/opaque.ts';
import { createHttp1Session } from '../http1/session.ts';
import type { CaptureFactory } from './capture-tap.ts';

export function createCaptureFactory(): CaptureFactory {
  return {
    detect: detectProtocol,
    createSession: (protocol, ctx) => (protocol === 'http' ? createHttp1Session(ctx) : createOpaqueSession(ctx, protocol)),
  };
}
