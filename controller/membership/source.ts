/**
 * Where membership comes from: the cluster's informers (`cluster-source.ts`) or the lab's
 * JSON file (`file-source.ts`). A source only says "something may have changed"; the hub
 * reads the whole state when its debounce fires, so a burst of events costs one build.
 */
import { silentLogger, type Logger } from '../../lib/log.ts';
import type { MembershipInput } from './build.ts';

export interface MembershipSource {
  /** `cluster` or `file`, for logs. */
  readonly kind: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** The whole current state; undefined until the source has one it trusts (first sync, first good file). */
  read(): MembershipInput | undefined;
  /** `listener` is called whenever `read()` may answer differently; returns the unsubscribe function. */
  onChange(listener: () => void): () => void;
}

/** A set of listeners, each called in a try so that one failing never stops the others. */
export function createListeners(log: Logger = silentLogger): { add(fn: () => void): () => void; fire(): void } {
  const listeners = new Set<() => void>();
  return {
    add(fn) {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
    fire() {
      for (const fn of [...listeners]) {
        try {
          fn();
        } catch (err) {
          log.error({ error: (err as Error).message }, 'membership change listener failed');
        }
      }
    },
  };
}
