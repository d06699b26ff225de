/**
 * The forwarding thread's half of capture: a bounded hand-off of byte copies to the capture
 * worker, which parses, builds and — given a `RemoteShipper` — ships the records itself
 * (without one, the encoded records come back to `onRecords`).
 *
 * Per chunk the forwarding thread does only this: read a clock, check two byte budgets and copy
 * the chunk into the current batch. The batch is transferred to the worker every 100 ms, or at
 * the end of the loop turn once it holds 256 KiB: each message wakes a thread, and at a
 * thousand requests a second wake-ups (a woken thread runs with cold caches), not copying,
 * were most of what capture cost the process. The worker publishes the number of the last batch it processed in
 * shared memory (read with `Atomics.load`, so a busy forwarding loop releases bytes as soon as
 * the worker is done with them, not when it gets round to the worker's messages) and sends the
 * records it completed back as messages.
 *
 * The budgets bound what capture may hold between the two threads: bytes handed off and not
 * yet processed, per connection and direction and per sidecar. A chunk that would go over either is not
 * copied: the worker is told only its length (`OP_*_SKIP`). Inside a body the parser absorbs
 * the gap and stays in step (the record's body is cut and says so); anywhere else the worker
 * cuts that connection's capture, flushes what it had as `capture_overflow` records and counts
 * the cut by reason (`connection_budget`, `sidecar_budget`). On an HTTP/2, PostgreSQL or MySQL
 * connection a chunk over a budget is split at message boundaries instead (`framing.ts`): what
 * keeps the worker in step (HTTP/2 frame headers and non-DATA frames, so the HPACK state
 * survives; database message headers and every message whose content cannot be cut) is copied
 * if it fits, and only bodies and rows are skipped. Skipped bytes are counted here.
 * Forwarding never waits for the worker and never slows for it.
 *
 * A worker that dies is replaced; the connections it was capturing are cut (counted), new
 * connections are captured by the new one.
 */
import { Worker } from 'node:worker_threads';
import { epochAtPerformanceZero } from '../clock.ts';
import type { ForwardingFact } from '../capture/connection-facts.ts';
import type { CloseReason, NsClock } from '../capture/session.ts';
import type { DirectionStats, SidecarStats } from '../metrics.ts';
import { createSidecarStats } from '../stats.ts';
import type { CaptureChannel, ConnectionCapture } from '../proxy/capture-channel.ts';
import type { ConnectionMeta } from '../proxy/connection.ts';
import type { CaptureCounters } from './capture-engine.ts';
import {
  OP_CLIENT_DATA,
  OP_CLIENT_END,
  OP_CLOSE,
  OP_DISABLE,
  OP_META,
  OP_OPEN,
  OP_SERVER_DATA,
  OP_SERVER_END,
  OP_CLIENT_SKIP,
  OP_SERVER_SKIP,
  OP_UNREACHABLE,
  HANDOFF_POST_MS,
  OpWriter,
  type SkipReason,
} from './ops.ts';
import { captureWorkerUrl } from './worker-url.ts';
import type { CaptureWorkerData, FromWorker, ToWorker } from './messages.ts';
import type { LogLevel } from '../../lib/log.ts';
import type { RemoteShipper } from './remote-shipper.ts';
import { unpackRecords } from './packed-records.ts';
import { openingFraming } from './framing.ts';
import { MUST_COPY, type StreamFraming } from './stream-framing.ts';

/**
 * The worker's V8 heap where the process sets no V8 heap flags (tests, a sidecar run from
 * source): a small young generation (its garbage is short-lived parse state and records,
 * collected often and cheaply) and an old generation well above what the budgets let it hold.
 * A pod's sidecar runs with `NODE_OPTIONS` heap flags (`lib/pod-entry.ts`), and V8's flags take
 * precedence over a worker's `resourceLimits` (which still reports these): there the worker's
 * heap is the flags'. A worker out of memory dies and is replaced (its captures counted as cut).
 */
const WORKER_LIMITS = { maxYoungGenerationSizeMb: 4, maxOldGenerationSizeMb: 96 };

const POST_BYTES = 256 * 1024;
const POST_MS = HANDOFF_POST_MS;

/** The sidecar's defaults (`MESHTAP_CAPTURE_BUFFER_BYTES`, `MESHTAP_CAPTURE_CONNECTION_BUFFER_BYTES`). */
export const DEFAULT_SIDECAR_CAPTURE_BYTES = 16 * 1024 * 1024;
export const DEFAULT_CONNECTION_CAPTURE_BYTES = 4 * 1024 * 1024;


export interface CaptureHandOffOptions {
  /** What the worker needs to build records (plain data: it is cloned into the worker). */
  worker: Omit<CaptureWorkerData, 'timeBaseNs' | 'progress' | 'shipper'>;
  clock: NsClock;
  stats: SidecarStats;
  /** Bytes handed off and not yet processed, for the whole sidecar. */
  sidecarBytes?: number;
  /** The same, per connection and direction. */
  connectionBytes?: number;
  /**
   * The worker ships the records itself, through the shipper this object stands for on the
   * forwarding thread (remote-shipper.ts); `onRecords` is then not called.
   */
  shipper?: RemoteShipper;
  /** Encoded records from the worker (views into one buffer per batch), without `shipper`. Must not throw. */
  onRecords?: (records: Uint8Array[]) => void;
  /** Worker failures, record failures and the worker shipper's lines, for the log. */
  onLog?: (level: LogLevel, message: string, fields: Record<string, unknown>) => void;
  /** The worker's script (tests); default: beside this module, source or bundle. */
  workerUrl?: URL;
  /** V8 limits of the worker thread. */
  resourceLimits?: { maxOldGenerationSizeMb?: number; maxYoungGenerationSizeMb?: number };
  /** Tests: what follows a connection's message boundaries, from its first chunk (default `openingFraming`). */
  framingFor?: (fromClient: boolean, chunk: Uint8Array) => StreamFraming | undefined;
}

export interface CaptureHandOffStats {
  /** Bytes handed off and not yet processed (the sidecar budget's use). */
  inFlightBytes: number;
  batchesPosted: number;
  batchesDone: number;
  /** Bytes not handed off because a budget was full, by budget. */
  skippedBytes: Record<SkipReason, number>;
  /** Captures cut because their worker failed. */
  workerFailedCuts: number;
  workerRestarts: number;
  /** Framings that threw and were dropped (their connections captured without them). */
  framingFaults: number;
}

export interface CaptureHandOff extends CaptureChannel {
  /** Resolves once the worker is up and has its configuration (rejects if it cannot start). */
  ready(): Promise<void>;
  /** Waits until everything handed off so far has been processed and its records delivered. */
  flush(timeoutMs: number): Promise<boolean>;
  /** Flushes, then stops the worker. */
  close(timeoutMs: number): Promise<void>;
  stats(): CaptureHandOffStats;
  /** Test hook: the worker thread blocks until the returned function is called. */
  stallForTest(): () => void;
}

/**
 * Bytes of one direction of a connection handed off and not yet processed. Each direction has a
 * budget of its own: an upload that outruns the worker fills the client side's, and the answer
 * coming back is still copied — a response head skipped for want of budget would lose the
 * connection's framing and cut the very call whose request was being absorbed.
 */
class HeldBytes {
  /** Flat pairs [batch seq, bytes] not yet released, oldest first from `head`. */
  pending: number[] = [];
  head = 0;
  inFlight = 0;
}

class WorkerCapture implements ConnectionCapture {
  readonly fromClient = new HeldBytes();
  readonly fromServer = new HeldBytes();
  /** The connection's message boundaries while they are followed (`framing.ts`). */
  framing: StreamFraming | undefined;
  /** The first chunk has chosen `framing`. */
  framed = false;
  cut = false;
  done = false;
  readonly id: number;
  readonly generation: number;
  private readonly meta: ConnectionMeta;
  private readonly owner: HandOff;

  constructor(owner: HandOff, id: number, generation: number, meta: ConnectionMeta) {
    this.owner = owner;
    this.id = id;
    this.generation = generation;
    this.meta = meta;
  }

  clientData(chunk: Buffer, seenAt: number = performance.now()): void {
    if (!this.cut) this.owner.data(this, OP_CLIENT_DATA, chunk, seenAt);
  }

  serverData(chunk: Buffer, seenAt: number = performance.now()): void {
    if (!this.cut) this.owner.data(this, OP_SERVER_DATA, chunk, seenAt);
  }

  clientEnd(): void {
    if (!this.cut) this.owner.signal(this, OP_CLIENT_END);
  }

  serverEnd(): void {
    if (!this.cut) this.owner.signal(this, OP_SERVER_END);
  }

  close(reason: CloseReason): void {
    if (this.done) return;
    this.done = true;
    this.owner.text(this, OP_CLOSE, reason);
  }

  disable(): void {
    if (this.cut || this.done) return;
    this.cut = true;
    this.owner.signal(this, OP_DISABLE);
  }

  unreachable(detail: string, bytesOut: number): void {
    if (this.cut || this.done) return;
    this.cut = true;
    this.owner.text(this, OP_UNREACHABLE, JSON.stringify({ detail, bytesOut }));
  }

  fact(fact: ForwardingFact): void {
    if (!this.cut && !this.done) this.owner.fact(this, fact);
  }

  metaChanged(): void {
    if (this.cut || this.done) return;
    const m = this.meta;
    this.owner.text(
      this,
      OP_META,
      JSON.stringify({ connectionId: m.connectionId, mesh: m.mesh, localIdentity: m.localIdentity, peerIdentity: m.peerIdentity, meshFallback: m.meshFallback }),
    );
  }
}

class HandOff implements CaptureHandOff {
  private readonly options: CaptureHandOffOptions;
  private readonly writer = new OpWriter();
  /** `StreamFraming.split`'s output, reused. */
  private readonly runs: number[] = [];
  private readonly chooseFraming: (fromClient: boolean, chunk: Uint8Array) => StreamFraming | undefined;
  private readonly sidecarBytes: number;
  private readonly connectionBytes: number;
  private readonly timeBaseNs: bigint;
  /** [0]: the last batch seq the current worker processed (written by the worker). */
  private progress = new Int32Array(new SharedArrayBuffer(4));
  private worker!: Worker;
  private generation = 0;
  private nextCapture = 1;
  /** Seq of the batch being written; batches up to `doneSeq` are processed. */
  private seq = 1;
  private doneSeq = 0;
  /** Bytes of the batch being written. */
  private batchBytes = 0;
  /** Bytes of posted, unprocessed batches, by seq (in order). */
  private readonly posted = new Map<number, number>();
  private flushScheduled = false;
  private timer: NodeJS.Timeout | undefined;
  private immediate: NodeJS.Immediate | undefined;
  private closed = false;
  private readyPromise!: Promise<void>;
  /** flush() calls waiting for the worker's answer to their `counters` message, by id. */
  private readonly waiters = new Map<number, (ok: boolean) => void>();
  private nextFlush = 1;
  private readonly counts: CaptureHandOffStats = {
    inFlightBytes: 0,
    batchesPosted: 0,
    batchesDone: 0,
    skippedBytes: { connection_budget: 0, sidecar_budget: 0 },
    workerFailedCuts: 0,
    workerRestarts: 0,
    framingFaults: 0,
  };
  /** The current worker's latest counters, and what the workers before it had counted. */
  private latest: CaptureCounters | undefined;
  private readonly earlier: CaptureCounters = createSidecarStats();
  /** Captures of the current worker still open, so a failed worker's can be cut. */
  private readonly live = new Set<WorkerCapture>();

  constructor(options: CaptureHandOffOptions) {
    this.options = options;
    this.sidecarBytes = options.sidecarBytes ?? DEFAULT_SIDECAR_CAPTURE_BYTES;
    this.connectionBytes = options.connectionBytes ?? DEFAULT_CONNECTION_CAPTURE_BYTES;
    this.chooseFraming = options.framingFor ?? openingFraming;
    this.timeBaseNs = epochAtPerformanceZero(options.clock);
    this.start();
  }

  private start(): void {
    const generation = ++this.generation;
    this.progress = new Int32Array(new SharedArrayBuffer(4));
    Atomics.store(this.progress, 0, this.seq - 1);
    const remote = this.options.shipper;
    const data: CaptureWorkerData = {
      ...this.options.worker,
      timeBaseNs: this.timeBaseNs.toString(),
      progress: this.progress,
      shipper: remote?.startData(),
    };
    const worker = new Worker(this.options.workerUrl ?? captureWorkerUrl(), {
      workerData: data,
      resourceLimits: this.options.resourceLimits ?? WORKER_LIMITS,
      stdout: false,
      stderr: false,
    });
    this.worker = worker;
    remote?.attach((message, transfer) => {
      // Records made on this thread (DNS) go after the ops seen before them: the worker links a
      // lookup to the inbound request whose head is in those ops.
      if (message.kind === 'ship' && generation === this.generation) this.post();
      worker.postMessage(message, transfer ?? []);
    });
    this.readyPromise = new Promise<void>((resolve, reject) => {
      const onMessage = (message: FromWorker) => {
        if (message.kind === 'ready') {
          worker.off('error', onError);
          worker.off('message', onMessage);
          // Held until ready, so a process waiting for the worker does not end meanwhile;
          // afterwards the listeners keep the process alive, not capture.
          worker.unref();
          resolve();
        }
      };
      const onError = (err: Error) => reject(err);
      worker.on('message', onMessage);
      worker.once('error', onError);
    });
    // A start failure is the caller's to see through ready(); later failures are handled below.
    this.readyPromise.catch(() => undefined);
    worker.on('message', (message: FromWorker) => this.fromWorker(message, generation));
    worker.on('error', (err) => this.log('error', 'capture worker failed', { error: err.message }));
    worker.on('exit', (code) => this.exited(generation, code));
  }

  ready(): Promise<void> {
    return this.readyPromise;
  }

  open(meta: ConnectionMeta, _direction: DirectionStats): ConnectionCapture {
    void _direction;
    const capture = new WorkerCapture(this, this.nextCapture++, this.generation, meta);
    if (this.closed) {
      capture.cut = true;
      capture.done = true;
      return capture;
    }
    this.live.add(capture);
    this.writer.text(OP_OPEN, capture.id, performance.now(), JSON.stringify(meta));
    this.schedule();
    return capture;
  }

  /** `at`: `performance.now()` when forwarding read the chunk (the op's time). */
  data(capture: WorkerCapture, op: number, chunk: Buffer, at: number): void {
    if (capture.generation !== this.generation) return;
    const n = chunk.byteLength;
    const processed = Atomics.load(this.progress, 0);
    if (processed > this.doneSeq) this.done(processed);
    const client = op === OP_CLIENT_DATA;
    const held = client ? capture.fromClient : capture.fromServer;
    this.release(held);
    const over: SkipReason | undefined =
      held.inFlight + n > this.connectionBytes ? 'connection_budget' : this.counts.inFlightBytes + n > this.sidecarBytes ? 'sidecar_budget' : undefined;
    // The framing reads the application's bytes on this thread: whatever it throws stays here.
    let framing: StreamFraming | undefined;
    let must = -1;
    try {
      if (!capture.framed) {
        capture.framed = true;
        capture.framing = this.chooseFraming(client, chunk);
      }
      framing = capture.framing;
      if (framing !== undefined) {
        if (over === undefined) {
          if (!framing.advance(client, chunk)) capture.framing = undefined;
        } else {
          must = framing.split(client, chunk, this.runs);
        }
      }
    } catch (err) {
      this.framingFault(capture, err);
      framing = undefined;
    }
    if (over === undefined) {
      this.copy(capture, held, op, chunk, at);
      return;
    }
    if (framing !== undefined) {
      // Copy what keeps the worker in step (HTTP/2: frame headers and every non-DATA frame;
      // PostgreSQL, MySQL: packet headers and every packet whose content cannot be cut) if that
      // fits, and skip only what the worker absorbs as cut bodies.
      if (must >= 0 && held.inFlight + must <= this.connectionBytes && this.counts.inFlightBytes + must <= this.sidecarBytes) {
        this.copyRuns(capture, held, op, chunk, this.runs, over, at);
        return;
      }
      // The worker loses the framing at this gap and stops capturing the connection.
      capture.framing = undefined;
    }
    this.skip(capture, op, n, over, at);
  }

  /**
   * A framing threw (a bug in it, met by some connection's bytes): the connection goes on
   * without it — chunks within the budgets are still copied whole, a gap cuts the capture as it
   * would for an unframed connection — counted with the parsers' exceptions, the first logged.
   */
  private framingFault(capture: WorkerCapture, err: unknown): void {
    capture.framing = undefined;
    this.counts.framingFaults++;
    this.options.stats.parserErrors.exception++;
    if (this.counts.framingFaults === 1) {
      this.log('error', 'capture framing failed; the connection is captured without it (later failures are only counted)', {
        error: err instanceof Error ? err.message : String(err),
        connection: capture.id,
      });
    }
  }

  /** Hands a chunk (or part of one) off: it counts against both budgets until the worker processed its batch. */
  private copy(capture: WorkerCapture, held: HeldBytes, op: number, bytes: Uint8Array, at: number): void {
    const n = bytes.byteLength;
    this.writer.data(op, capture.id, at, bytes);
    this.counts.inFlightBytes += n;
    this.batchBytes += n;
    held.inFlight += n;
    const p = held.pending;
    if (p.length > held.head && p[p.length - 2] === this.seq) p[p.length - 1] += n;
    else p.push(this.seq, n);
    this.schedule();
  }

  /** A chunk as `StreamFraming.split` described it: its runs copied or skipped, in order. */
  private copyRuns(capture: WorkerCapture, held: HeldBytes, op: number, chunk: Buffer, runs: readonly number[], reason: SkipReason, at: number): void {
    let offset = 0;
    for (let r = 0; r < runs.length; r += 2) {
      const len = runs[r + 1];
      if (runs[r] === MUST_COPY) this.copy(capture, held, op, chunk.subarray(offset, offset + len), at);
      else this.skip(capture, op, len, reason, at);
      offset += len;
    }
  }

  signal(capture: WorkerCapture, op: number): void {
    if (capture.generation !== this.generation) return;
    this.writer.signal(op, capture.id, performance.now());
    this.schedule();
  }

  fact(capture: WorkerCapture, fact: ForwardingFact): void {
    if (capture.generation !== this.generation) return;
    this.writer.fact(capture.id, performance.now(), fact);
    this.schedule();
  }

  text(capture: WorkerCapture, op: number, text: string): void {
    if (op === OP_CLOSE) this.live.delete(capture);
    if (capture.generation !== this.generation) return;
    this.writer.text(op, capture.id, performance.now(), text);
    this.schedule();
  }

  /** Releases the bytes of batches the worker has processed from a direction's count. */
  private release(held: HeldBytes): void {
    const p = held.pending;
    let h = held.head;
    while (h < p.length && p[h] <= this.doneSeq) {
      held.inFlight -= p[h + 1];
      h += 2;
    }
    if (h === p.length) {
      p.length = 0;
      h = 0;
    }
    held.head = h;
  }

  private skip(capture: WorkerCapture, op: number, n: number, reason: SkipReason, at: number): void {
    this.counts.skippedBytes[reason] += n;
    this.writer.skip(op === OP_CLIENT_DATA ? OP_CLIENT_SKIP : OP_SERVER_SKIP, capture.id, at, n, reason);
    this.schedule();
  }

  /**
   * A batch goes to the worker at the end of the loop turn once it holds `POST_BYTES`, else
   * `POST_MS` after its first op: each message (and the thread wake-up it causes) costs about as much as
   * a few kilobytes of copying, so small batches are gathered over a couple of milliseconds.
   */
  private schedule(): void {
    if (this.writer.length >= POST_BYTES) {
      if (this.immediate === undefined) this.immediate = setImmediate(() => this.post());
      return;
    }
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    this.timer = setTimeout(() => this.post(), POST_MS);
    this.timer.unref();
  }

  private post(): void {
    this.flushScheduled = false;
    clearTimeout(this.timer);
    clearImmediate(this.immediate);
    this.timer = undefined;
    this.immediate = undefined;
    if (this.writer.length === 0) return;
    const seq = this.seq++;
    const batch = this.writer.take();
    this.posted.set(seq, this.batchBytes);
    this.batchBytes = 0;
    this.counts.batchesPosted++;
    const message: ToWorker = { kind: 'ops', seq, batch };
    this.worker.postMessage(message, batch.buffers);
  }

  private fromWorker(message: FromWorker, generation: number): void {
    if (generation !== this.generation) return;
    if (message.kind === 'done') {
      if (message.seq > this.doneSeq) this.done(message.seq);
      if (message.records !== undefined) this.deliver(message.records);
      if (message.counters !== undefined) this.mirror(message.counters);
      this.options.shipper?.report(message.shipper);
    } else if (message.kind === 'counters') {
      this.mirror(message.counters);
      this.options.shipper?.report(message.shipper);
    } else if (message.kind === 'flushed') {
      this.mirror(message.counters);
      this.options.shipper?.report(message.shipper);
      this.waiters.get(message.id)?.(true);
    } else if (message.kind === 'failure') {
      this.log('warn', `record dropped: ${message.stage} failed`, { error: message.error });
    } else if (message.kind === 'log') {
      this.log(message.level, message.message, message.fields);
    } else if (message.kind === 'shipper-closed') {
      this.options.shipper?.shipperClosed(message.id, message.shipper);
    }
  }

  private done(seq: number): void {
    for (const [s, bytes] of this.posted) {
      if (s > seq) break;
      this.counts.inFlightBytes -= bytes;
      this.counts.batchesDone++;
      this.posted.delete(s);
    }
    this.doneSeq = seq;
  }

  private deliver(packed: ArrayBuffer): void {
    try {
      this.options.onRecords?.(unpackRecords(packed));
    } catch (err) {
      this.log('error', 'records could not be handed to the shipper', { error: (err as Error).message });
    }
  }

  /** The worker owns these counters; the sidecar's metrics read its latest copy plus the earlier workers'. */
  private mirror(c: CaptureCounters): void {
    this.latest = c;
    addCaptureCounts(this.options.stats, this.earlier, c, this.options.shipper !== undefined);
    // The workers' parser exceptions and this thread's framing faults, together.
    this.options.stats.parserErrors.exception += this.counts.framingFaults;
  }

  /** A worker ended: its last counts join the earlier workers', so the metrics never go back. */
  private foldLatest(): void {
    if (this.latest !== undefined) addCaptureCounts(this.earlier, this.earlier, this.latest, true);
    this.latest = undefined;
  }

  private exited(generation: number, code: number): void {
    if (generation !== this.generation) return;
    this.wakeAll();
    if (this.closed) return;
    this.log('error', 'capture worker exited; starting a new one (connections it was capturing are cut)', { code, open_captures: this.live.size });
    this.counts.workerFailedCuts += this.live.size;
    this.options.stats.captureOverflow.worker_failed = this.counts.workerFailedCuts;
    for (const capture of this.live) capture.cut = true;
    this.live.clear();
    this.foldLatest();
    this.options.shipper?.workerLost();
    // The lost batches' bytes are no longer held anywhere.
    this.posted.clear();
    this.counts.inFlightBytes = 0;
    this.batchBytes = 0;
    this.writer.take();
    this.doneSeq = this.seq - 1;
    this.counts.workerRestarts++;
    this.start();
  }

  /**
   * Posts what is pending, then asks the worker for its counters: it answers after every
   * earlier batch (messages are processed in order), so by then their records are delivered.
   */
  flush(timeoutMs: number): Promise<boolean> {
    if (this.writer.length > 0) this.post();
    const id = this.nextFlush++;
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => finish(false), timeoutMs);
      const finish = (ok: boolean) => {
        clearTimeout(timer);
        this.waiters.delete(id);
        resolve(ok);
      };
      this.waiters.set(id, finish);
      const message: ToWorker = { kind: 'counters', id };
      this.worker.postMessage(message);
    });
  }

  private wakeAll(): void {
    for (const finish of [...this.waiters.values()]) finish(false);
  }

  async close(timeoutMs: number): Promise<void> {
    if (this.closed) return;
    await this.flush(timeoutMs);
    this.closed = true;
    this.options.shipper?.detach();
    await this.worker.terminate();
  }

  stats(): CaptureHandOffStats {
    return { ...this.counts, skippedBytes: { ...this.counts.skippedBytes } };
  }

  stallForTest(): () => void {
    const signal = new Int32Array(new SharedArrayBuffer(4));
    const message: ToWorker = { kind: 'stall', signal };
    this.worker.postMessage(message);
    return () => {
      Atomics.store(signal, 0, 1);
      Atomics.notify(signal, 0);
    };
  }

  private log(level: LogLevel, message: string, fields: Record<string, unknown>): void {
    try {
      this.options.onLog?.(level, message, fields);
    } catch {
      // the log must not break capture
    }
  }
}

/** `into[k] = a[k] + b[k]` for every key of either (`into` may be `a`). */
function addCounts(into: Record<string, number>, a: Record<string, number>, b: Record<string, number>): void {
  for (const k of Object.keys(b)) into[k] = (a[k] ?? 0) + b[k];
  if (into !== a) for (const k of Object.keys(a)) if (!(k in b)) into[k] = a[k];
}

/**
 * The counts the worker owns, `a + b` into `into` (`into` may be `a`); other fields of `into`
 * are left alone. `offered` is the worker's only when it ships; else the forwarding thread
 * counts what its shipper took. The worker's overflow reasons (a parser's backlog) and the
 * forwarding thread's (`worker_failed`) are distinct keys.
 */
function addCaptureCounts(into: CaptureCounters, a: CaptureCounters, b: CaptureCounters, offered: boolean): void {
  into.records.emitted = a.records.emitted + b.records.emitted;
  if (offered) into.records.offered = a.records.offered + b.records.offered;
  addCounts(into.records.dropped, a.records.dropped, b.records.dropped);
  into.parserErrors.exception = a.parserErrors.exception + b.parserErrors.exception;
  into.parserErrors.parse_error = a.parserErrors.parse_error + b.parserErrors.parse_error;
  addCounts(into.captureOverflow, a.captureOverflow, b.captureOverflow);
  addCounts(into.outbound.connectionsByProtocol, a.outbound.connectionsByProtocol, b.outbound.connectionsByProtocol);
  addCounts(into.inbound.connectionsByProtocol, a.inbound.connectionsByProtocol, b.inbound.connectionsByProtocol);
  addCounts(into.flowLinks, a.flowLinks, b.flowLinks);
}

export function createCaptureHandOff(options: CaptureHandOffOptions): CaptureHandOff {
  return new HandOff(options);
}
