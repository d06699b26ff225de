/**
 * What follows a switch of protocols on an HTTP/1 connection (`Upgrade: h2c`, `websocket`,
 * CONNECT). The HTTP/1 session knows no other protocol: the parser for the rest of the
 * connection is injected as a factory, given what the HTTP/1 side saw, and its exchanges are
 * numbered after the connection's HTTP/1 ones (record ids must stay unique per connection).
 */
import type { CaptureContext, CaptureSession } from '../capture/session.ts';

/** What the HTTP/1 side knew when the connection switched protocols. */
export interface UpgradeInfo {
  /** Lower-case: `websocket`, `h2c`, `connect`, … (`unknown` for a 101 without Upgrade). */
  protocol: string;
  /** The request that asked for the switch. */
  request: { method?: string; path?: string; authority?: string; headers: Record<string, string>; body: Uint8Array };
  /** The 101 response's headers (empty for CONNECT). */
  responseHeaders: Record<string, string>;
  /** When the switch happened. */
  at: bigint;
}

/** A parser for the upgraded connection, or undefined to leave it opaque. */
export type UpgradeSessionFactory = (ctx: CaptureContext, upgrade: UpgradeInfo) => CaptureSession | undefined;

/** The factory's session with its ordinals shifted by `ordinalBase`; undefined if it declines or throws. */
export function startUpgradeTail(factory: UpgradeSessionFactory, ctx: CaptureContext, ordinalBase: number, upgrade: UpgradeInfo): CaptureSession | undefined {
  const shifted: CaptureContext = { ...ctx, emit: (e) => ctx.emit({ ...e, ordinal: e.ordinal + ordinalBase }) };
  try {
    return factory(shifted, upgrade);
  } catch {
    return undefined;
  }
}
