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
import * as grpc from '@grpc/grpc-js';
import { z } from 'zod';
import { MeshtapError } from '../../lib/errors.ts';
import { createBackoff } from '../../lib/backoff.ts';
import { silentLogger, type Logger } from '../../lib/log.ts';
import { SC_ERR_MEMBERSHIP_CONFIG } from './errors.ts';
import { buildMembershipTable, resolveMembership, type FeedState, type MembershipLookup, type MembershipTable } from './lookup.ts';
import { loadMembershipServiceDefinition, type MembershipSnapshotMessage, type WatchRequestMessage } from '../../record/membership-proto.ts';

const isFunction = (v: unknown): boolean => typeof v === 'function';

const OptionsSchema = z
  .object({
    /** `host:port` of the controller's gRPC port (`MESHTAP_CONTROLLER_ADDR`). */
    controllerAddr: z.string().min(1),
    /** The roots the controller's serving certificate chains to (PEM). */
    trustBundlePem: z.string().min(1),
    /** The token itself, or the file it is mounted at (read again on every connect: the kubelet rotates it). */
    token: z.string().min(1).optional(),
    tokenFile: z.string().min(1).optional(),
    /** The name to check the controller's certificate against when it differs from the address's host. */
    serverName: z.string().min(1).optional(),
    log: z.custom<Logger>((v) => typeof v === 'object' && v !== null && isFunction((v as Logger).warn), 'must have info/warn/error(fields, msg)').optional(),
    backoff: z
      .object({
        /** First reconnect delay ceiling; each failure doubles it up to `maxMs`; the delay is uniform in [0, ceiling). */
        initialMs: z.number().int().min(1).default(500),
        maxMs: z.number().int().min(1).default(30_000),
      })
      .default({ initialMs: 500, maxMs: 30_000 }),
    /** How long a disconnected feed is still trusted. */
    staleAfterMs: z.number().int().min(0).default(60_000),
    /** HTTP/2 pings on the stream, so a dead controller is noticed without traffic. */
    keepaliveMs: z.number().int().min(1000).default(30_000),
    /** Delay before reconnecting after the controller ended a stream normally (token refresh). */
    resumeDelayMs: z.number().int().min(0).default(100),
    clock: z.custom<() => number>(isFunction).optional(),
    random: z.custom<() => number>(isFunction).optional(),
    /** Called with every new table (after it is in use). */
    onSnapshot: z.custom<(table: MembershipTable) => void>(isFunction).optional(),
  })
  .refine((o) => (o.token === undefined) !== (o.tokenFile === undefined), { message: 'give exactly one of "token" and "tokenFile"', path: ['token'] })
  .refine((o) => o.backoff.maxMs >= o.backoff.initialMs, { message: 'backoff.maxMs must be at least backoff.initialMs', path: ['backoff'] });

export type MembershipClientOptions = z.input<typeof OptionsSchema>;

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

type WatchClient = grpc.Client & {
  Watch(request: WatchRequestMessage, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<MembershipSnapshotMessage>;
};

let clientConstructor: grpc.ServiceClientConstructor | undefined;

export function createMembershipClient(options: MembershipClientOptions): MembershipClient {
  const parsed = OptionsSchema.safeParse(options);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(options)'}: ${i.message}`);
    throw new MeshtapError(SC_ERR_MEMBERSHIP_CONFIG, `createMembershipClient: ${problems.join('; ')}`);
  }
  const opts = parsed.data;
  const log = opts.log ?? silentLogger;
  const clock = opts.clock ?? Date.now;
  const backoff = createBackoff({ baseMs: opts.backoff.initialMs, capMs: opts.backoff.maxMs, random: opts.random ?? Math.random });

  let credentials: grpc.ChannelCredentials;
  try {
    credentials = grpc.credentials.createSsl(Buffer.from(opts.trustBundlePem));
  } catch (err) {
    throw new MeshtapError(SC_ERR_MEMBERSHIP_CONFIG, `the trust bundle cannot be used to verify the controller: ${(err as Error).message}`, { cause: err });
  }
  clientConstructor ??= grpc.makeGenericClientConstructor(loadMembershipServiceDefinition(), 'Membership');
  const channelOptions: grpc.ChannelOptions = {
    'grpc.keepalive_time_ms': opts.keepaliveMs,
    'grpc.keepalive_timeout_ms': 10_000,
    // Our own backoff decides when to try again; the channel should not add its own minutes.
    'grpc.initial_reconnect_backoff_ms': 200,
    'grpc.max_reconnect_backoff_ms': opts.backoff.maxMs,
    ...(opts.serverName ? { 'grpc.ssl_target_name_override': opts.serverName, 'grpc.default_authority': opts.serverName } : {}),
  };
  const client = new clientConstructor(opts.controllerAddr, credentials, channelOptions) as unknown as WatchClient;

  let state: FeedState = { table: undefined, connected: false, lastGoodAt: undefined };
  let call: grpc.ClientReadableStream<MembershipSnapshotMessage> | undefined;
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
    const metadata = new grpc.Metadata();
    metadata.set('authorization', `Bearer ${token}`);
    const stream = client.Watch({ known_version: state.table?.version ?? 0 }, metadata);
    call = stream;
    let ended = false;
    const finish = (err: grpc.ServiceError | undefined): void => {
      if (ended) return;
      ended = true;
      if (call === stream) call = undefined;
      const wasConnected = state.connected;
      if (wasConnected) setState({ connected: false, lastGoodAt: clock() });
      if (closed) return;
      if (!err) {
        // The controller ended the stream on purpose (a token refresh, a rolling restart).
        log.info({ version: state.table?.version }, 'membership: the controller ended the stream; reconnecting');
        schedule(opts.resumeDelayMs);
        return;
      }
      failures++;
      const wait = backoff.next();
      const fields = { code: grpc.status[err.code] ?? err.code, error: err.details || err.message, retryInMs: wait, version: state.table?.version, staleAfterMs: opts.staleAfterMs };
      if (err.code === grpc.status.UNAUTHENTICATED || err.code === grpc.status.PERMISSION_DENIED) log.error(fields, 'membership: the controller refused the token; retrying');
      else log.warn(fields, wasConnected ? 'membership: stream to the controller lost; keeping the last snapshot while reconnecting' : 'membership: cannot reach the controller; retrying');
      schedule(wait);
    };
    stream.on('metadata', () => {
      if (ended || closed) return;
      connects++;
      setState({ connected: true, lastGoodAt: clock() });
      log.debug?.({ addr: opts.controllerAddr }, 'membership: connected to the controller');
    });
    stream.on('data', (snapshot: MembershipSnapshotMessage) => {
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
    });
    stream.on('error', (err: grpc.ServiceError) => finish(err.code === grpc.status.OK ? undefined : err));
    stream.on('status', (status: grpc.StatusObject) => {
      if (status.code === grpc.status.OK) finish(undefined);
    });
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
      setState({ connected: false });
      client.close();
    },
  };
}
