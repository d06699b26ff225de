/**
 * A window read in sub-windows, and what each record read stands for. The API answers the
 * newest records first, so a window read whole up to a bound describes only its last part (2000
 * records were about the last minute of a busy 8-minute window). Read instead as equal
 * sub-windows with an equal share of the bound each, every part of the window is in the figures:
 *
 * - a sub-window read whole: each of its records stands for itself (weight 1);
 * - a sub-window that held more: what was read are its newest arrivals, and a record arrives as
 *   its exchange ends, so every call that started at or after the earliest end read was read
 *   (give or take the sidecars' shipping delay). Those calls are kept, each standing for
 *   (sub-window length ÷ time from that instant to the sub-window's end) calls: the calls of
 *   that time scaled up to the whole sub-window, as if traffic were steady within it. Calls read
 *   that started earlier (long ones, which ended late) are left out: the time kept already holds
 *   its own long calls.
 *
 * Pure: the reads come in, weights and coverage go out.
 */
import type { CallRecordJson } from '../../record/record-json.ts';

/** How many sub-windows a window is read in. */
export const SUB_WINDOWS = 20;

/** `[from, to)` in ns since the epoch. */
export interface Span {
  from: bigint;
  to: bigint;
}

/** `[from, to)` cut into `count` sub-windows of equal length (the last takes the remainder; fewer when the window is shorter than `count` ns). */
export function subWindows(from: bigint, to: bigint, count: number = SUB_WINDOWS): Span[] {
  const length = to - from;
  const wanted = BigInt(Math.max(1, count));
  const n = length < wanted ? (length > 0n ? length : 1n) : wanted;
  const out: Span[] = [];
  for (let i = 0n; i < n; i++) out.push({ from: from + (length * i) / n, to: from + (length * (i + 1n)) / n });
  return out;
}

export interface SubWindowRead {
  span: Span;
  /** The records read, newest arrivals first. */
  records: readonly CallRecordJson[];
  /** Every matching record of the sub-window was read. */
  whole: boolean;
}

export interface WindowSample {
  /** What one record read stands for: a number of calls, 0 when it is left out. */
  weight: (record: CallRecordJson) => number;
  /** Sub-windows that held more records than were read (their calls are scaled). */
  scaled: number;
  /** Sub-windows of which nothing could be read (the collector stopped scanning before finding any): their calls are missing. */
  unread: number;
  /** The share of the window's time whose calls were all read, 0–1. */
  covered: number;
}

const ns = (text: string): bigint => BigInt(text);

/** Weights for the records of a window read as `reads` (its sub-windows, in any order). */
export function weighWindow(reads: readonly SubWindowRead[]): WindowSample {
  const weights = new Map<string, number>();
  let scaled = 0;
  let unread = 0;
  let total = 0n;
  let covered = 0n;
  for (const { span, records, whole } of reads) {
    const length = span.to - span.from;
    total += length;
    if (whole) {
      covered += length;
      for (const r of records) weights.set(r.id, 1);
      continue;
    }
    if (records.length === 0) {
      unread++;
      continue;
    }
    scaled++;
    let earliestEnd: bigint | undefined;
    let earliestStart: bigint | undefined;
    for (const r of records) {
      const end = ns(r.end);
      const start = ns(r.start);
      if (earliestEnd === undefined || end < earliestEnd) earliestEnd = end;
      if (earliestStart === undefined || start < earliestStart) earliestStart = start;
    }
    // Every record read ended after the sub-window did (calls longer than it): keep from the earliest start.
    let cut = earliestEnd! < span.to ? earliestEnd! : earliestStart!;
    if (cut < span.from) cut = span.from;
    const kept = span.to - cut;
    covered += kept;
    const weight = Number(length) / Number(kept);
    for (const r of records) if (ns(r.start) >= cut) weights.set(r.id, weight);
  }
  return {
    weight: (r) => weights.get(r.id) ?? 0,
    scaled,
    unread,
    covered: total > 0n ? Number(covered) / Number(total) : 1,
  };
}
