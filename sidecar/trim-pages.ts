/**
 * Gives back the pages of the `node` binary that only starting needed.
 *
 * A sidecar maps the whole binary, and starting touches far more of it than forwarding and
 * capture ever use again: bootstrap code, the startup snapshot, the JavaScript sources of Node's
 * own modules. Those pages stay resident (a sidecar under load held about 54 MiB of the binary,
 * an idle `node` with nothing loaded 31 MiB). Once started, the sidecar drops its mappings of the
 * binary's read-only pages (`madvise(MADV_DONTNEED)`): what is used again faults back from the
 * page cache, which every node process on the machine shares; what is not stays out of the
 * sidecar's resident set.
 *
 * Only clean pages are dropped: a mapping of the binary that is not writable and holds no page of
 * its own, resident or swapped out (`Anonymous: 0`, `Swap: 0` in smaps). A private page that was
 * ever written (relocations made read-only afterwards) would be lost, not re-read: such mappings
 * are left alone, and so are the copies of V8's built-in code each isolate maps from the binary
 * (`cleanMappingsOf`). The pages leave the sidecar's resident set, not the page cache: the pod's
 * memory cgroup is still charged for them until the kernel reclaims them, which it may at will.
 */
import { readFileSync } from 'node:fs';
import koffi from 'koffi';
import { describeError } from '../lib/errors.ts';
import type { Logger } from '../lib/log.ts';

const MADV_DONTNEED = 4;
/** madvise's answer for a range no longer mapped (a thread's isolate unmapped it meanwhile). */
const ENOMEM = 12;

export interface MappedRange {
  start: bigint;
  end: bigint;
  /** Resident KiB of the range when smaps was read. */
  residentKiB: number;
}

/** How far a loader segment's address may sit from where the file's start is mapped, less its offset. */
const SEGMENT_SLACK = 2n * 1024n * 1024n;

interface Candidate extends MappedRange {
  offset: bigint;
  /** Both `Anonymous` and `Swap` were read, and both were 0. */
  anonymousZero: boolean;
  swapZero: boolean;
}

/**
 * The read-only, never-written mappings of `file` that its loader made, in a /proc/PID/smaps
 * text. Never written: no anonymous page resident (`Anonymous: 0`) nor swapped out (`Swap: 0`;
 * a written page that went to swap counts only there); a mapping without both lines is not
 * taken. The loader's: at the address where the file's first page is mapped plus its offset
 * (within alignment). V8 also maps a copy of its built-in code from the binary for each
 * isolate, elsewhere; a worker's copy goes when the worker does and its addresses are reused,
 * so such a copy is never taken: between reading smaps and the madvise, another thread could
 * have mapped its own memory there.
 */
export function cleanMappingsOf(smaps: string, file: string): MappedRange[] {
  const candidates: Candidate[] = [];
  let current: Candidate | undefined;
  let base: bigint | undefined;
  for (const line of smaps.split('\n')) {
    const header = /^([0-9a-f]+)-([0-9a-f]+) (\S{4}) ([0-9a-f]+) \S+ \S+\s*(.*)$/.exec(line);
    if (header) {
      const [, start, end, perms, offset, name] = header;
      current = undefined;
      if (name !== file) continue;
      if (offset.replace(/^0+/, '') === '') base ??= BigInt(`0x${start}`);
      if (perms[1] === 'w') continue;
      current = { start: BigInt(`0x${start}`), end: BigInt(`0x${end}`), offset: BigInt(`0x${offset}`), residentKiB: 0, anonymousZero: false, swapZero: false };
      candidates.push(current);
      continue;
    }
    if (!current) continue;
    const field = /^(Rss|Anonymous|Swap):\s+(\d+) kB$/.exec(line);
    if (field?.[1] === 'Rss') current.residentKiB = Number(field[2]);
    else if (field?.[1] === 'Anonymous') current.anonymousZero = field[2] === '0';
    else if (field?.[1] === 'Swap') current.swapZero = field[2] === '0';
  }
  if (base === undefined) return [];
  const loaded = (c: Candidate): boolean => {
    const distance = c.start - c.offset - base;
    return distance > -SEGMENT_SLACK && distance < SEGMENT_SLACK;
  };
  return candidates.filter((c) => c.anonymousZero && c.swapZero && loaded(c)).map(({ start, end, residentKiB }) => ({ start, end, residentKiB }));
}

export interface TrimResult {
  /** KiB that were resident in the ranges dropped (some come back as they are used). */
  droppedKiB: number;
  ranges: number;
  /** Ranges madvise refused (left as they were), and the errno of the first. */
  failed: number;
  errno?: number;
}

export interface TrimOptions {
  /** The binary whose pages to drop (default: this process's executable). */
  file?: string;
  readSmaps?: () => string;
  /** madvise(start, length, MADV_DONTNEED): 0 when done, else the errno. */
  dontNeed?: (start: bigint, length: bigint) => number;
}

let libcDontNeed: ((start: bigint, length: bigint) => number) | undefined;

function dontNeedViaLibc(): (start: bigint, length: bigint) => number {
  if (!libcDontNeed) {
    const madvise = koffi.load('libc.so.6').func('int madvise(uintptr_t addr, size_t length, int advice)') as (a: bigint, l: bigint, advice: number) => number;
    libcDontNeed = (start, length) => (madvise(start, length, MADV_DONTNEED) === 0 ? 0 : koffi.errno());
  }
  return libcDontNeed;
}

/** Drops this process's clean pages of the binary. Throws only when smaps or libc cannot be read. */
export function trimBinaryPages(options: TrimOptions = {}): TrimResult {
  const file = options.file ?? process.execPath;
  const smaps = (options.readSmaps ?? (() => readFileSync('/proc/self/smaps', 'utf8')))();
  const dontNeed = options.dontNeed ?? dontNeedViaLibc();
  const result: TrimResult = { droppedKiB: 0, ranges: 0, failed: 0 };
  for (const range of cleanMappingsOf(smaps, file)) {
    const errno = dontNeed(range.start, range.end - range.start);
    if (errno === ENOMEM) continue;
    if (errno === 0) {
      result.droppedKiB += range.residentKiB;
      result.ranges++;
    } else {
      result.failed++;
      result.errno ??= errno;
    }
  }
  return result;
}

/**
 * Trims once, `afterSeconds` from now (0: never), and logs what went back or why nothing did.
 * Returns what cancels it (the sidecar stopping first).
 */
export function scheduleBinaryTrim(afterSeconds: number, log: Logger): () => void {
  if (afterSeconds <= 0) return () => undefined;
  const timer = setTimeout(() => {
    try {
      const trimmed = trimBinaryPages();
      const refused = trimmed.failed > 0 ? { refused: trimmed.failed, errno: trimmed.errno } : {};
      log.info({ dropped_mib: Math.round(trimmed.droppedKiB / 102.4) / 10, ranges: trimmed.ranges, ...refused }, 'gave back the node binary pages only starting used');
    } catch (err) {
      log.warn({ error: describeError(err) }, 'cannot give back the node binary pages only starting used (MESHTAP_TRIM_AFTER_SECONDS=0 stops trying)');
    }
  }, afterSeconds * 1000).unref();
  return () => clearTimeout(timer);
}
