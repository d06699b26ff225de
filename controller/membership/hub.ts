/**
 * The membership hub: turns a source's change signals into numbered snapshots. Changes are
 * debounced (a rollout moves many pods within a second: sidecars should get one snapshot, not
 * fifty), with a ceiling so a steady trickle of events still publishes. A build equal to the
 * previous one publishes nothing. Each snapshot is encoded once and the same bytes go to
 * every stream.
 */
import { encodeMembershipSnapshot, type MembershipSnapshotMessage } from '../../record/membership-proto.ts';
import { buildMembership } from './build.ts';
import { silentLogger, type Logger } from '../../lib/log.ts';
import type { MembershipSource } from './source.ts';

export interface PublishedSnapshot {
  readonly snapshot: MembershipSnapshotMessage;
  /** The protobuf encoding of `snapshot`. */
  readonly bytes: Buffer;
}

export interface MembershipHubOptions {
  readonly source: MembershipSource;
  readonly trustDomain: string;
  /** Quiet time after the last change before building. Default 200 ms. */
  readonly debounceMs?: number;
  /** Longest a change waits while changes keep coming. Default 1000 ms. */
  readonly maxDelayMs?: number;
  /** Unix ms; versions are max(previous + 1, clock()). */
  readonly clock?: () => number;
  readonly log?: Logger;
}

export interface MembershipHub {
  current(): PublishedSnapshot | undefined;
  /** `listener` gets every snapshot published from now on. */
  subscribe(listener: (published: PublishedSnapshot) => void): () => void;
  /** Builds now if the source has changed since the last build (tests, shutdown). */
  flush(): void;
  close(): void;
}

export function createMembershipHub(options: MembershipHubOptions): MembershipHub {
  const debounceMs = options.debounceMs ?? 200;
  const maxDelayMs = Math.max(options.maxDelayMs ?? 1000, debounceMs);
  const clock = options.clock ?? Date.now;
  const log = options.log ?? silentLogger;
  const listeners = new Set<(p: PublishedSnapshot) => void>();
  let published: PublishedSnapshot | undefined;
  let lastContent: string | undefined;
  let version = 0;
  let timer: NodeJS.Timeout | undefined;
  let firstPendingAt: number | undefined;
  let dirty = true;
  let closed = false;

  const build = (): void => {
    clearTimeout(timer);
    timer = undefined;
    firstPendingAt = undefined;
    if (closed || !dirty) return;
    const input = options.source.read();
    if (!input) return;
    dirty = false;
    const { content, skipped } = buildMembership(input, { trustDomain: options.trustDomain });
    for (const s of skipped) log.warn({ event: 'membership-skip', ...s }, 'injected pod left out of membership');
    const key = JSON.stringify(content);
    if (key === lastContent) return;
    lastContent = key;
    version = Math.max(version + 1, clock());
    const snapshot: MembershipSnapshotMessage = { version, generated_unix_ms: clock(), ...content };
    published = Object.freeze({ snapshot, bytes: encodeMembershipSnapshot(snapshot) });
    log.info(
      { event: 'membership-snapshot', version, workloads: content.workloads.length, services: content.services.length, bytes: published.bytes.length, streams: listeners.size },
      'membership snapshot published',
    );
    for (const fn of [...listeners]) {
      try {
        fn(published);
      } catch (err) {
        log.error({ error: (err as Error).message }, 'membership subscriber failed');
      }
    }
  };

  const changed = (): void => {
    if (closed) return;
    dirty = true;
    const now = clock();
    firstPendingAt ??= now;
    clearTimeout(timer);
    const wait = Math.max(0, Math.min(debounceMs, firstPendingAt + maxDelayMs - now));
    timer = setTimeout(build, wait);
    timer.unref?.();
  };

  const unsubscribe = options.source.onChange(changed);
  changed();

  return {
    current: () => published,
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    flush: build,
    close() {
      closed = true;
      clearTimeout(timer);
      unsubscribe();
      listeners.clear();
    },
  };
}
