/**
 * Recorded chunks (`recording-relay.ts`) replayed into a capture session, and its exchanges made
 * into records and masked as the capture worker ships them: what would leave the pod.
 */
import type { CallRecord } from '../../record/record.ts';
import type { Exchange } from '../../sidecar/capture/session.ts';
import { maskRecord } from '../../sidecar/mask/mask-record.ts';
import { buildCallRecord } from '../../sidecar/proxy/record-builder.ts';
import type { RelayChunk } from './recording-relay.ts';

interface ReplayableSession {
  clientData(chunk: Uint8Array, t: bigint): void;
  serverData(chunk: Uint8Array, t: bigint): void;
  close(t: bigint, reason: 'fin'): void;
}

type SessionFactory = (options: { maxBodyBytes: number; emit: (e: Exchange) => void; event: () => void }) => ReplayableSession;

/** The records one recorded connection to a server on `dstPort` gives, masked. */
export function replayShipped(create: SessionFactory, chunks: readonly RelayChunk[], dstPort: number): CallRecord[] {
  const meta = { connectionId: 'c1', observer: 'outbound' as const, client: { ip: '10.0.0.1', port: 40000 }, dst: { ip: '10.0.0.2', port: dstPort }, mesh: false };
  const exchanges: Exchange[] = [];
  const s = create({ maxBodyBytes: 64 * 1024, emit: (e) => exchanges.push(e), event: () => undefined });
  let last = 0n;
  for (const c of chunks) {
    last = c.at;
    if (c.from === 'client') s.clientData(c.data, c.at);
    else s.serverData(c.data, c.at);
  }
  s.close(last + 1n, 'fin');
  return exchanges.map((e) => maskRecord(buildCallRecord(e, meta, { pod: 'p', namespace: 'n' })));
}
