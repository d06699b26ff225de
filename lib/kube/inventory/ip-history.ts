/**
 * Who held an IP address when. Each address has a list of non-overlapping intervals
 * `[from, to)` sorted by `from`, the last possibly open (`to` undefined: still held).
 *
 * Kubernetes reuses pod IPs as soon as a pod is gone, so "who has 10.244.1.7" depends on when
 * the question is about: a record that started before a pod churned must resolve to the pod
 * that had the IP then, and a new pod taking the IP must not claim the old records.
 * Boundaries are approximate (API timestamps have second precision, events arrive late):
 * `lookup` answers with the containing interval, or the nearest one within a grace.
 */

export interface Interval<K> {
  readonly key: K;
  from: bigint;
  to?: bigint;
}

export interface IpHistoryOptions {
  /** Closed intervals kept per address at most (heavy churn on one IP). */
  readonly maxPerAddress?: number;
}

const DEFAULT_MAX_PER_ADDRESS = 16;

export class IpHistory<K> {
  readonly #byIp = new Map<string, Interval<K>[]>();
  readonly #maxPerAddress: number;

  constructor(options: IpHistoryOptions = {}) {
    this.#maxPerAddress = options.maxPerAddress ?? DEFAULT_MAX_PER_ADDRESS;
  }

  get size(): number {
    return this.#byIp.size;
  }

  intervals(ip: string): readonly Readonly<Interval<K>>[] {
    return this.#byIp.get(ip) ?? [];
  }

  /**
   * `key` holds `ip` from `from` on. An open interval of another key is closed where this one
   * begins (two live holders of one IP cannot exist: the newer claim wins); the new interval
   * never starts before the previous one ended, so history is never rewritten. When the claim
   * says it started before the open holder did, the open holder's start is trusted and the
   * switch is placed at `observedAt` (when the claim was seen).
   */
  open(ip: string, key: K, from: bigint, observedAt?: bigint): void {
    let list = this.#byIp.get(ip);
    if (!list) {
      list = [];
      this.#byIp.set(ip, list);
    }
    const last = list.at(-1);
    if (last) {
      if (last.to === undefined) {
        if (last.key === key) return;
        let boundary = from > last.from ? from : (observedAt ?? last.from);
        if (boundary < last.from) boundary = last.from;
        last.to = boundary;
        if (last.to === last.from) list.pop();
        from = boundary;
      } else if (from < last.to) {
        from = last.to;
      }
    }
    list.push({ key, from });
    this.#bound(list);
  }

  /** `key` gave up `ip` at `at` (deleted, finished, or moved to another IP). */
  close(ip: string, key: K, at: bigint): void {
    const list = this.#byIp.get(ip);
    const last = list?.at(-1);
    if (!list || !last || last.key !== key || last.to !== undefined) return;
    last.to = at > last.from ? at : last.from;
    if (last.to === last.from) list.pop();
    if (list.length === 0) this.#byIp.delete(ip);
  }

  /**
   * A finished holding learnt after the fact (a pod already completed when first listed).
   * It fills a gap in the history only: where it overlaps known intervals it is clipped.
   */
  insertClosed(ip: string, key: K, from: bigint, to: bigint): void {
    if (to <= from) return;
    let list = this.#byIp.get(ip);
    if (!list) {
      list = [];
      this.#byIp.set(ip, list);
    }
    let index = 0;
    for (; index < list.length; index++) {
      const e = list[index];
      if (e.to !== undefined && e.to <= from) continue;
      if (e.from >= to) break;
      if (e.from <= from) {
        if (e.to === undefined) return;
        from = e.to;
        continue;
      }
      to = e.from;
      break;
    }
    if (to <= from) {
      if (list.length === 0) this.#byIp.delete(ip);
      return;
    }
    list.splice(index, 0, { key, from, to });
    this.#bound(list);
  }

  /** The holder of `ip` at `at`: the containing interval, else the nearest one within `graceNs`. */
  lookup(ip: string, at: bigint, graceNs: bigint): K | undefined {
    const list = this.#byIp.get(ip);
    if (!list) return undefined;
    let best: Interval<K> | undefined;
    let bestDistance = graceNs;
    for (let i = list.length - 1; i >= 0; i--) {
      const e = list[i];
      if (at >= e.from && (e.to === undefined || at < e.to)) return e.key;
      // `to` is exclusive: the last instant inside is `to - 1`.
      const distance = at < e.from ? e.from - at : at - (e.to as bigint) + 1n;
      if (distance <= bestDistance) {
        best = e;
        bestDistance = distance;
      }
    }
    return best?.key;
  }

  /** Drop intervals that ended before `cutoff`; returns the keys dropped. */
  prune(cutoff: bigint): K[] {
    const dropped: K[] = [];
    for (const [ip, list] of this.#byIp) {
      let n = 0;
      while (n < list.length && list[n].to !== undefined && (list[n].to as bigint) < cutoff) dropped.push(list[n++].key);
      if (n === 0) continue;
      list.splice(0, n);
      if (list.length === 0) this.#byIp.delete(ip);
    }
    return dropped;
  }

  /** Whether `key` still appears in the history of `ip`. */
  holds(ip: string, key: K): boolean {
    return this.#byIp.get(ip)?.some((e) => e.key === key) ?? false;
  }

  #bound(list: Interval<K>[]): void {
    while (list.length > this.#maxPerAddress && list[0].to !== undefined) list.shift();
  }
}
