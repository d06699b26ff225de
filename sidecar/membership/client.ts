/**
 * The sidecar's membership client: one server stream (`meshtap.v1.Membership/Watch`) to the
 * controller over TLS (the controller verified with the trust bundle, the pod's projected
 * service-account token as `authorization: Bearer`), the latest snapshot kept as a lookup
 * table, reconnects with exponential backoff and full jitter.
 *
 * A stale or missing feed never breaks traffic: before the first snapshot, and once the
 * stream has been down for longer than `staleAfterMs`, `lookup` answers "not meshed" and the
 * proxy passes connections through in plaintext (see `lookup.ts` for the rules). While the
 * stream is down but within that limit, the last snapshot keeps answering: a controller
 * restart does not turn mTLS off. Nothing here throws after construction; failures are logged
 * and retried.
 */
import { readFile } from 'node:fs/promises';
import { createSecureContext } from 'node:tls';
import { MeshtapError } from '../../lib/errors.ts';
import type { GrpcCall } from '../../lib/grpc-client/call.ts';
import { connectGrpc, type GrpcConnectOptions, type GrpcConnection } from '../../lib/grpc-client/connection.ts';
import { GRPC_STATUS, GrpcCallError, statusName, type GrpcStatus } from '../../lib/grpc-client/status.ts';
import { serverStreamCall } from '../../lib/grpc-client/unary.ts';
import { createBackoff } from '../../lib/backoff.ts';
import { silentLogger, type Logger } from '../../lib/log.ts';
import { readFunction, readInteger, readObject, readString, type Issues } from '../../lib/validate.ts';
import { SC_ERR_MEMBERSHIP_CONFIG } from './errors.ts';
import { buildMembershipTable, resolveMembership, type FeedState, type MembershipLookup, type MembershipTable } from './lookup.ts';
import type { MembershipSnapshotMessage, WatchRequestMessage } from '../../record/membership-proto.ts';
import { MEMBERSHIP_CLIENT_SERVICE } from '../../record/membership-wire.ts';

export interface MembershipClientOptions {
  /** `host:port` of the controller's gRPC port (`MESHTAP_CONTROLLER_ADDR`). */
  controllerAddr: string;
  /** The roots the controller's serving certificate chains to (PEM). */
  trustBundlePem: string;
  /** The token itself, or the file it is mounted at (read again on every connect: the kubelet rotates it). Exactly one. */
  token?: string;
  tokenFile?: string;
  /** The name to check the controller's certificate against when it differs from the address's host. */
  serverName?: string;
  log?: Logger;
  backoff?: {
    /** First reconnect delay ceiling (default 500); each failure doubles it up to `maxMs` (default 30 000); the delay is uniform in [0, ceiling). */
    initialMs?: number;
    maxMs?: number;
  };
  /** How long a disconnected feed is still trusted (default 60 000). */
  staleAfterMs?: number;
  /** HTTP/2 pings on the stream, so a dead controller is noticed without traffic (default 30 000, at least 1000). */
  keepaliveMs?: number;
  /** Delay before reconnecting after the controller ended a stream normally (token refresh; default 100). */
  resumeDelayMs?: number;
  clock?: () => number;
  random?: () => number;
  /** Called with every new table (after it is in use). */
  onSnapshot?: (table: MembershipTable) => void;
}

type ResolvedOptions = MembershipClientOptions & Required<Pick<MembershipClientOptions, 'staleAfterMs' | 'keepaliveMs' | 'resumeDelayMs'>> & {
  backoff: { initialMs: number; maxMs: number };
};

/** Options checked by hand (the sidecar loads no schema library); unknown keys are ignored. */
function checkOptions(input: unknown, issues: Issues): ResolvedOptions | undefined {
  const o = readObject(input, [], issues);
  if (o === undefined) return undefined;
  const str = (key: string) => (o[key] === undefined ? undefined : readString(o[key], [key], issues, { min: 1 }));
  const int = (key: string, min: number, fallback: number) => (o[key] === undefined ? fallback : readInteger(o[key], [key], issues, { min }));
  const fn = (key: string, message?: string) => (o[key] === undefined ? undefined : readFunction(o[key], [key], issues, message));
  const controllerAddr = readString(o.controllerAddr, ['controllerAddr'], issues, { min: 1 });
  const trustBundlePem = readString(o.trustBundlePem, ['trustBundlePem'], issues, { min: 1 });
  const token = str('token');
  const tokenFile = str('tokenFile');
  const serverName = str('serverName');
  let log: Logger | undefined;
  if (o.log !== undefined) {
    const l = o.log as Logger;
    if (typeof l === 'object' && l !== null && typeof l.warn === 'function') log = l;
    else issues.push({ path: ['log'], message: 'must have info/warn/error(fields, msg)' });
  }
  let backoff = { initialMs: 500, maxMs: 30_000 };
  if (o.backoff !== undefined) {
    const b = readObject(o.backoff, ['backoff'], issues);
    if (b !== undefined) {
      const initialMs = b.initialMs === undefined ? 500 : readInteger(b.initialMs, ['backoff', 'initialMs'], issues, { min: 1 });
      const maxMs = b.maxMs === undefined ? 30_000 : readInteger(b.maxMs, ['backoff', 'maxMs'], issues, { min: 1 });
      if (initialMs !== undefined && maxMs !== undefined) backoff = { initialMs, maxMs };
    }
  }
  const staleAfterMs = int('staleAfterMs', 0, 60_000);
  const keepaliveMs = int('keepaliveMs', 1000, 30_000);
  const resumeDelayMs = int('resumeDelayMs', 0, 100);
  const clock = fn('clock') as (() => number) | undefined;
  const random = fn('random') as (() => number) | undefined;
  const onSnapshot = fn('onSnapshot') as ((table: MembershipTable) => void) | undefined;
  if (issues.length > 0) return undefined;
  if ((token === undefined) === (tokenFile === undefined)) issues.push({ path: ['token'], message: 'give exactly one of "token" and "tokenFile"' });
  if (backoff.maxMs < backoff.initialMs) issues.push({ path: ['backoff'], message: 'backoff.maxMs must be at least backoff.initialMs' });
  if (issues.length > 0) return undefined;
  return {
    controllerAddr: controllerAddr as string,
    trustBundlePem: trustBundlePem as string,
    token,
    tokenFile,
    serverName,
    log,
    backoff,
    staleAfterMs: staleAfterMs as number,
    keepaliveMs: keepaliveMs as number,
    resumeDelayMs: resumeDelayMs as number,
    clock,
    random,
    onSnapshot,
  };
}

export interface MembershipClientStats {
  readonly version: number | undefined;
  readonly connected: boolean;
  readonly workloads: number;
  readonly services: number;
  readonly snapshots: number;
  readonly connects: number;
  readonly failures: number;
}

export interface MembershipClient {
  /** What to do with a connection to `ip:port`; never throws, never waits. */
  lookup(ip: string, port: number): MembershipLookup;
  /** The version of the snapshot in use; undefined before the first. */
  readonly version: number | undefined;
  /** A stream to the controller is open. */
  readonly connected: boolean;
  stats(): MembershipClientStats;
  /** Resolves true once a snapshot is in use (at once if one is), false after `timeoutMs` or on close. */
  waitForSnapshot(timeoutMs: number): Promise<boolean>;
  close(): Promise<void>;
}

/** How long the TCP and TLS handshakes may take before an attempt counts as failed. */
const CONNECT_TIMEOUT_MS = 10_000;

export function createMembershipClient(options: MembershipClientOptions): MembershipClient {
  const issues: Issues = [];
  const checked = checkOptions(options, issues);
  if (checked === undefined) {
    const problems = issues.map((i) => `${i.path.join('.') || '(options)'}: ${i.message}`);
    throw new MeshtapError(SC_ERR_MEMBERSHIP_CONFIG, `createMembershipClient: ${problems.join('; ')}`);
  }
  const opts: ResolvedOptions = checked;
  const log = opts.log ?? silentLogger;
  const clock = opts.clock ?? Date.now;
  const backoff = createBackoff({ baseMs: opts.backoff.initialMs, capMs: opts.backoff.maxMs, random: opts.random ?? Math.random });

  const ca = opts.trustBundlePem;
  try {
    createSecureContext({ ca });
  } catch (err) {
    throw new MeshtapError(SC_ERR_MEMBERSHIP_CONFIG, `the trust bundle cannot be used to verify the controller: ${(err as Error).message}`, { cause: err });
  }
  // One connection per stream: reconnect timing is our own backoff alone.
  const connectOptions: GrpcConnectOptions = {
    address: opts.controllerAddr,
    tls: { ca, ...(opts.serverName ? { servername: opts.serverName } : {}) },
    ...(opts.serverName ? { authority: opts.serverName } : {}),
    connectTimeoutMs: CONNECT_TIMEOUT_MS,
    keepalive: { intervalMs: opts.keepaliveMs, timeoutMs: 10_000 },
  };

  let state: FeedState = { table: undefined, connected: false, lastGoodAt: undefined };
  let call: GrpcCall<WatchRequestMessage> | undefined;
  let connection: GrpcConnection | undefined;
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  let snapshots = 0;
  let connects = 0;
  let failures = 0;
  const waiters = new Set<(ok: boolean) => void>();

  const setState = (change: Partial<FeedState>): void => {
    state = { ...state, ...change };
  };

  const schedule = (delayMs: number): void => {
    if (closed) return;
    clearTimeout(timer);
    timer = setTimeout(() => void connect(), delayMs);
    timer.unref?.();
  };

  const readToken = async (): Promise<string> => {
    if (opts.token !== undefined) return opts.token;
    const token = (await readFile(opts.tokenFile as string, 'utf8')).trim();
    if (token === '') throw new Error(`the token file ${opts.tokenFile} is empty`);
    return token;
  };

  async function connect(): Promise<void> {
    if (closed) return;
    let token: string;
    try {
      token = await readToken();
    } catch (err) {
      failures++;
      const wait = backoff.next();
      log.warn({ error: (err as Error).message, retryInMs: wait }, 'membership: cannot read the service-account token; retrying');
      schedule(wait);
      return;
    }
    if (closed) return;
    let conn: GrpcConnection;
    try {
      conn = await connectGrpc(connectOptions);
    } catch (err) {
      onFailure(err instanceof GrpcCallError ? err : { code: GRPC_STATUS.UNAVAILABLE, details: (err as Error).message }, false);
      return;
    }
    if (closed) {
      conn.destroy();
      return;
    }
    connection = conn;
    let ended = false;
    const finish = (status: GrpcStatus): void => {
      if (ended) return;
      ended = true;
      if (call === stream) call = undefined;
      if (connection === conn) connection = undefined;
      conn.destroy();
      const wasConnected = state.connected;
      if (wasConnected) setState({ connected: false, lastGoodAt: clock() });
      if (closed) return;
      if (status.code === GRPC_STATUS.OK) {
        // The controller ended the stream on purpose (a token refresh, a rolling restart).
        log.info({ version: state.table?.version }, 'membership: the controller ended the stream; reconnecting');
        schedule(opts.resumeDelayMs);
        return;
      }
      onFailure(status, wasConnected);
    };
    const stream: GrpcCall<WatchRequestMessage> = serverStreamCall(conn, MEMBERSHIP_CLIENT_SERVICE.Watch, { known_version: state.table?.version ?? 0 }, { metadata: { authorization: `Bearer ${token}` } }, {
      onHeaders() {
        if (ended || closed) return;
        connects++;
        setState({ connected: true, lastGoodAt: clock() });
        log.debug?.({ addr: opts.controllerAddr }, 'membership: connected to the controller');
      },
      onMessage(snapshot: MembershipSnapshotMessage) {
        if (ended || closed) return;
        let table: MembershipTable;
        try {
          table = buildMembershipTable(snapshot);
        } catch (err) {
          log.error({ error: (err as Error).message }, 'membership: unusable snapshot ignored');
          return;
        }
        snapshots++;
        // A snapshot proves the stream healthy: the next failure starts from the first delay.
        backoff.reset();
        const previous = state.table?.version;
        setState({ table, connected: true, lastGoodAt: clock() });
        log.info({ version: table.version, previous, workloads: table.workloads, services: table.services }, 'membership: snapshot');
        for (const w of [...waiters]) w(true);
        try {
          opts.onSnapshot?.(table);
        } catch (err) {
          log.error({ error: (err as Error).message }, 'membership: onSnapshot callback failed');
        }
      },
      onStatus: finish,
    });
    if (!ended) call = stream;
  }

  function onFailure(status: Pick<GrpcStatus, 'code' | 'details'>, wasConnected: boolean): void {
    if (closed) return;
    failures++;
    const wait = backoff.next();
    const fields = { code: statusName(status.code), error: status.details, retryInMs: wait, version: state.table?.version, staleAfterMs: opts.staleAfterMs };
    if (status.code === GRPC_STATUS.UNAUTHENTICATED || status.code === GRPC_STATUS.PERMISSION_DENIED) log.error(fields, 'membership: the controller refused the token; retrying');
    else log.warn(fields, wasConnected ? 'membership: stream to the controller lost; keeping the last snapshot while reconnecting' : 'membership: cannot reach the controller; retrying');
    schedule(wait);
  }

  void connect();

  return {
    lookup(ip, port) {
      return resolveMembership(state, ip, port, clock(), opts.staleAfterMs);
    },
    get version() {
      return state.table?.version;
    },
    get connected() {
      return state.connected;
    },
    stats() {
      return {
        version: state.table?.version,
        connected: state.connected,
        workloads: state.table?.workloads ?? 0,
        services: state.table?.services ?? 0,
        snapshots,
        connects,
        failures,
      };
    },
    waitForSnapshot(timeoutMs) {
      if (state.table) return Promise.resolve(true);
      if (closed) return Promise.resolve(false);
      return new Promise((resolve) => {
        const done = (ok: boolean) => {
          clearTimeout(t);
          waiters.delete(done);
          resolve(ok);
        };
        const t = setTimeout(() => done(false), timeoutMs);
        waiters.add(done);
      });
    },
    async close() {
      if (closed) return;
      closed = true;
      clearTimeout(timer);
      for (const w of [...waiters]) w(false);
      call?.cancel();
      call = undefined;
      connection?.destroy();
      connection = undefined;
      setState({ connected: false });
    },
  };
}
