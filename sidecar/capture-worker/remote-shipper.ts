/**
 * The forwarding thread's view of the shipper that runs in the capture worker
 * (worker-shipper.ts). It is a `Shipper` to the rest of the sidecar:
 *
 * - `offer` / `offerEncoded` (DNS records) gather the encoded records of one event-loop turn
 *   and post them to the worker packed in one message; the worker counts them as offered or
 *   dropped;
 * - `stats()` is the worker's latest report (at most ~100 ms old) plus what earlier workers
 *   reported before they died; the hooks the worker's shipper called are replayed into
 *   `metrics` as the reports arrive, so `/metrics` reads as with a shipper on this thread;
 * - `close()` asks the worker to drain its shipper and waits for the final report.
 *
 * The workload certificate is this thread's: each new one is posted to the worker, and so is
 * the end of the first wait for one (`auto` mode connects only after it).
 *
 * A worker that dies takes its shipper's queue with it: those records are counted dropped as
 * `worker_failed` (as of its last report), and the next worker starts a new shipper.
 */
import { encodeCallRecord } from '../../record/record-writer.ts';
import type { CallRecord } from '../../record/record.ts';
import type { CollectorIdentity } from '../shipper/collector-credentials.ts';
import { replayShipperDeltas } from '../shipper/metrics-relay.ts';
import { DROP_REASONS, type DropReason, type ShipperMetrics, type ShipperStats } from '../shipper/metrics.ts';
import type { CloseOptions, Shipper } from '../shipper/shipper.ts';
import type { SidecarShipperSettings } from '../shipper/sidecar-shipper.ts';
import type { IdentityUpdate, ShipperReport, ToWorker, WorkerShipperStart } from './messages.ts';
import { packRecords } from './packed-records.ts';

/** The workload identity as the forwarding thread holds it (sidecar/identity/workload-identity.ts). */
export interface IdentitySource {
  current(): (CollectorIdentity & { notAfterMs: number }) | undefined;
  /** Called with each certificate obtained or rotated. */
  onIssued(listener: () => void): void;
  waitForFirst(timeoutMs: number): Promise<boolean>;
}

/** What the forwarding thread lends the worker's shipper (set once, before the worker starts). */
export interface RemoteShipperDeps {
  /** Absent without a CA (plaintext, or nothing in `on` mode). */
  identity?: IdentitySource;
  /** How long `auto` mode waits for a first certificate before connecting in plaintext. */
  firstIdentityTimeoutMs?: number;
  /** The sidecar's shipper metrics (prom-metrics.ts), fed from the worker's reports. */
  metrics?: ShipperMetrics;
}

type Post = (message: ToWorker, transfer?: ArrayBuffer[]) => void;

/** The counters that add up across workers (the rest are the current worker's state). */
const CUMULATIVE = ['offered', 'shipped', 'connects', 'connectFailures', 'streamBreaks', 'batchesResent', 'batchesSent', 'batchesAcked'] as const;

function zeroStats(): ShipperStats {
  return {
    offered: 0,
    shipped: 0,
    dropped: Object.fromEntries(DROP_REASONS.map((r) => [r, 0])) as Record<DropReason, number>,
    droppedTotal: 0,
    queueBytes: 0,
    queueRecords: 0,
    inFlightBatches: 0,
    inFlightRecords: 0,
    heldBytes: 0,
    connected: false,
    connects: 0,
    connectFailures: 0,
    streamBreaks: 0,
    batchesResent: 0,
    batchesSent: 0,
    batchesAcked: 0,
    closed: false,
  };
}

export class RemoteShipper implements Shipper {
  private readonly settings: SidecarShipperSettings;
  private deps: RemoteShipperDeps = {};
  private post: Post | undefined;
  /** What workers that died had reported, plus their lost queues. */
  private readonly base = zeroStats();
  /** The current worker's latest report. */
  private latest: ShipperStats | undefined;
  private gate = true;
  private closing: Promise<ShipperStats> | undefined;
  private readonly closeWaiters = new Map<number, () => void>();
  private nextClose = 1;
  /** Records offered this turn, posted together at its end. */
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;

  constructor(settings: SidecarShipperSettings) {
    this.settings = settings;
  }

  /** The metrics and the identity, once the sidecar has them (before the hand-off starts the worker). */
  connect(deps: RemoteShipperDeps): void {
    this.deps = deps;
    const identity = deps.identity;
    if (identity === undefined) return;
    identity.onIssued(() => this.sendIdentity());
    // Only `auto` waits for a first certificate; without a CA there is none to wait for.
    if (this.settings.tls.mode === 'auto') {
      this.gate = false;
      void identity.waitForFirst(deps.firstIdentityTimeoutMs ?? 0).then(() => {
        this.gate = true;
        this.sendIdentity();
      });
    }
  }

  /** For each worker the hand-off starts: the settings and the identity state as of now. */
  startData(): WorkerShipperStart {
    return { settings: this.settings, identity: this.identityUpdate() };
  }

  /** The hand-off's way to the current worker (set again after a restart). */
  attach(post: Post): void {
    this.post = post;
  }

  private identityUpdate(): IdentityUpdate {
    const id = this.deps.identity?.current();
    return {
      gate: this.gate,
      identity: id && {
        spiffeId: id.spiffeId,
        serialNumber: id.serialNumber,
        notAfterMs: id.notAfterMs,
        keyPem: id.keyPem,
        certPem: id.certPem,
        trustBundlePem: id.trustBundlePem,
      },
    };
  }

  private sendIdentity(): void {
    this.post?.({ kind: 'identity', ...this.identityUpdate() });
  }

  /** A report from the current worker: its hooks into the metrics, its stats kept. */
  report(report: ShipperReport | undefined): void {
    if (report === undefined) return;
    if (report.deltas !== undefined && this.deps.metrics !== undefined) {
      try {
        replayShipperDeltas(report.deltas, this.deps.metrics);
      } catch {
        // metrics never break shipping
      }
    }
    this.latest = report.stats;
  }

  /** The current worker died: what its shipper held is lost (counted), its totals kept. */
  workerLost(): void {
    const last = this.latest;
    this.latest = undefined;
    if (last === undefined) return;
    for (const key of CUMULATIVE) this.base[key] += last[key];
    for (const r of DROP_REASONS) this.base.dropped[r] += last.dropped[r];
    const lost = last.queueRecords + last.inFlightRecords;
    if (lost > 0) {
      this.base.dropped.worker_failed += lost;
      try {
        this.deps.metrics?.recordsDropped?.('worker_failed', lost);
      } catch {
        // as above
      }
    }
  }

  /** The worker answered a `close-shipper`. */
  shipperClosed(id: number, report: ShipperReport | undefined): void {
    this.report(report);
    this.closeWaiters.get(id)?.();
  }

  offer(record: CallRecord): boolean {
    let bytes: Uint8Array;
    try {
      bytes = encodeCallRecord(record);
    } catch {
      this.base.offered++;
      this.base.dropped.rejected++;
      return false;
    }
    return this.offerEncoded(bytes);
  }

  /** Handed to the worker at the end of this turn; true means handed over (the worker counts what its shipper took). */
  offerEncoded(record: Uint8Array): boolean {
    if (this.closing !== undefined || this.post === undefined) {
      this.base.offered++;
      this.base.dropped.shutdown++;
      return false;
    }
    if (this.pending.length === 0) setImmediate(() => this.postPending());
    this.pending.push(record);
    this.pendingBytes += 4 + record.byteLength;
    return true;
  }

  /** The records offered this turn, length-prefixed in one transferred buffer. */
  private postPending(): void {
    const records = this.pending;
    if (records.length === 0) return;
    const bytes = this.pendingBytes;
    this.pending = [];
    this.pendingBytes = 0;
    if (this.post === undefined) {
      // The worker went away for good between the offer and the end of the turn.
      this.base.offered += records.length;
      this.base.dropped.shutdown += records.length;
      return;
    }
    const packed = packRecords(records, bytes);
    this.post({ kind: 'ship', records: packed }, [packed]);
  }

  stats(): ShipperStats {
    const s = zeroStats();
    const latest = this.latest ?? s;
    for (const key of CUMULATIVE) s[key] = this.base[key] + (this.latest?.[key] ?? 0);
    for (const r of DROP_REASONS) {
      s.dropped[r] = this.base.dropped[r] + (this.latest?.dropped[r] ?? 0);
      s.droppedTotal += s.dropped[r];
    }
    s.queueBytes = latest.queueBytes;
    s.queueRecords = latest.queueRecords;
    s.inFlightBatches = latest.inFlightBatches;
    s.inFlightRecords = latest.inFlightRecords;
    s.heldBytes = latest.heldBytes;
    s.connected = latest.connected;
    s.closed = latest.closed;
    return s;
  }

  /** Asks the worker to drain its shipper; resolves with the final stats (or the last known after `drainMs` + 1 s). */
  close(options: CloseOptions = {}): Promise<ShipperStats> {
    if (this.closing !== undefined) return this.closing;
    const drainMs = options.drainMs ?? 5000;
    this.postPending();
    const post = this.post;
    this.closing = new Promise<ShipperStats>((resolve) => {
      if (post === undefined) {
        resolve(this.stats());
        return;
      }
      const id = this.nextClose++;
      const finish = (): void => {
        clearTimeout(timer);
        this.closeWaiters.delete(id);
        resolve(this.stats());
      };
      const timer = setTimeout(finish, drainMs + 1000);
      this.closeWaiters.set(id, finish);
      post({ kind: 'close-shipper', id, drainMs });
    });
    return this.closing;
  }

  /** The worker is gone for good (hand-off closed): a pending close resolves with what is known. */
  detach(): void {
    this.postPending();
    this.post = undefined;
    for (const finish of [...this.closeWaiters.values()]) finish();
  }
}
