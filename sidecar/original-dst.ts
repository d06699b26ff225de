/**
 * The original destination of a connection that iptables REDIRECTed to one of our listeners:
 * libc `getsockopt(fd, SOL_IP, SO_ORIGINAL_DST)` through koffi, on the socket's own fd.
 * IPv4 only (the pod rules redirect IPv4; IPv6 would need IP6T_SO_ORIGINAL_DST).
 */
import type { Socket } from 'node:net';
import koffi from 'koffi';
import { MeshtapError } from '../lib/errors.ts';
import { SC_ERR_ORIGINAL_DST } from './errors.ts';

const SOL_IP = 0;
const SO_ORIGINAL_DST = 80;
const SOCKADDR_IN_SIZE = 16;

export interface OriginalDst {
  ip: string;
  port: number;
}

/** Why no original destination could be read: a value, counted by the caller. */
export type OriginalDstFailure = 'no_fd' | 'getsockopt' | 'not_ipv4';

export type OriginalDstResult = { ok: true; dst: OriginalDst } | { ok: false; reason: OriginalDstFailure; errno?: number };

type GetsockoptFn = (fd: number, level: number, name: number, value: Buffer, length: number[]) => number;

let getsockopt: GetsockoptFn | undefined;

/** Loads libc once. Throws `SC_ERR_ORIGINAL_DST` when it cannot (the proxy cannot work then). */
export function loadOriginalDst(): void {
  if (getsockopt) return;
  try {
    const libc = koffi.load('libc.so.6');
    getsockopt = libc.func('int getsockopt(int fd, int level, int optname, _Out_ uint8_t *optval, _Inout_ uint32_t *optlen)') as GetsockoptFn;
  } catch (err) {
    throw new MeshtapError(SC_ERR_ORIGINAL_DST, `cannot load getsockopt from libc.so.6: ${(err as Error).message}`, { cause: err });
  }
}

/** The connection's file descriptor, from the libuv handle (not a public API, but stable for TCP). */
function socketFd(socket: Socket): number | undefined {
  const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : undefined;
}

/** Reads SO_ORIGINAL_DST. Never throws: a failure is a value (the caller closes the connection). */
export function readOriginalDst(socket: Socket): OriginalDstResult {
  loadOriginalDst();
  const fd = socketFd(socket);
  if (fd === undefined) return { ok: false, reason: 'no_fd' };
  const buf = Buffer.alloc(SOCKADDR_IN_SIZE);
  const len = [SOCKADDR_IN_SIZE];
  const rc = getsockopt!(fd, SOL_IP, SO_ORIGINAL_DST, buf, len);
  if (rc !== 0) return { ok: false, reason: 'getsockopt', errno: koffi.errno() };
  // struct sockaddr_in: family (host order), port (network order), address (network order)
  if (buf.readUInt16LE(0) !== 2) return { ok: false, reason: 'not_ipv4' };
  return { ok: true, dst: { ip: `${buf[4]}.${buf[5]}.${buf[6]}.${buf[7]}`, port: buf.readUInt16BE(2) } };
}
