/**
 * Private keys in free text (a JSON string value, read with its `\n` escapes decoded; a text or
 * multipart body; a header value, where the line breaks are written `\n` or spaces; a query),
 * kind `private_key`:
 *
 * - PEM and OpenSSH: from `-----BEGIN <label>PRIVATE KEY-----` to the matching
 *   `-----END <label>PRIVATE KEY-----`, the label empty (PKCS#8), `RSA `, `EC `, `DSA `,
 *   `OPENSSH `, `ENCRYPTED ` or `PGP ` (`PRIVATE KEY BLOCK`). What lies between the two marker
 *   lines is masked as one span, without the line breaks (or spaces, `\n`, `%0A`) right after
 *   the BEGIN line and right before the END line: `-----BEGIN RSA PRIVATE KEY-----\n****\n-----END
 *   RSA PRIVATE KEY-----`. The markers stay, so a reader sees what was there and where; the
 *   material goes whole (one `****`, as a token does: how many lines it had says nothing worth
 *   keeping). Only material that looks like a key's is masked: it holds a run of at least 16
 *   base64 characters, so prose about the markers (`between -----BEGIN PRIVATE KEY----- and
 *   -----END PRIVATE KEY-----`) and keys written out as an ellipsis in documentation (`…\n...\n…`) stay.
 *   A BEGIN line whose `-----BEGIN` another masker already took (`PRIVATE_KEY=**** RSA PRIVATE
 *   KEY-----`: a value is masked up to the first space) still opens a key. An END line whose
 *   BEGIN line is gone (masked whole as a value) closes the key material right before it: the
 *   run of key characters (base64, blanks and line breaks) back from it. Without its END line, a
 *   key's material is that run forward from the BEGIN line; in text cut short, after the last
 *   BEGIN line everything to the end.
 * - PuTTY (`PuTTY-User-Key-File-2:` / `-3:`): the `N` lines after `Private-Lines: N`; the header
 *   lines, the public lines and `Private-MAC:` stay.
 *
 * Certificates (`BEGIN CERTIFICATE`), public keys (`BEGIN PUBLIC KEY`, `BEGIN RSA PUBLIC KEY`,
 * `ssh-ed25519 AAAA…`) and CSRs are public and stay.
 *
 * Cost: `PRIVATE_KEY_STARTS` is searched with the tokens known by their shape, in one
 * expression (`token-formats.ts`): text holding neither pays that one search. The finder searches
 * for the markers again, reads each marker back from its end (a bounded number of characters),
 * and looks for the next `-----END` and `-----BEGIN` with searches whose answers are kept while
 * they lie ahead (each part of the text is searched once); the material is read once.
 */
import type { Span } from './detectors.ts';
import { byteEscapedBefore, percentByte } from './percent-escape.ts';
import { scanMeter } from './scan-meter.ts';
import { nextMatch } from './next-match.ts';

/**
 * What text holding a private key holds, for the search that says whether it may hold one (a
 * regular expression's source): `-----BEGIN` or `-----END`, or `KEY-----` (a BEGIN line whose
 * `-----BEGIN` is masked), or PuTTY's header (`PuTTY-User-Key-File-`). The same expression with
 * `BLOCK-----` (a masked PGP BEGIN line) searched JSON twice as slowly, and such a line opens a
 * key the search finds by its END line all the same: only a cut one goes unseen.
 */
export const PRIVATE_KEY_STARTS = '-----BEGIN|-----END|KEY-----|TTY-User-Key';
/** Where the finder reads a marker from: the end of every marker line (PGP's ends in `BLOCK-----`), PuTTY's header. */
const MARKERS = /KEY-----|BLOCK-----|TTY-User-Key/g;
const NO_SPANS: readonly Span[] = Object.freeze([]);

const BEGIN = '-----BEGIN';
const END = '-----END';
const PUTTY = 'PuTTY-User-Key-File-';
const PRIVATE_LINES = 'Private-Lines:';
/** The labels before `PRIVATE KEY` (PGP's before `PRIVATE KEY BLOCK`); none is PKCS#8's. */
const LABELS = ['RSA', 'EC', 'DSA', 'OPENSSH', 'ENCRYPTED', 'PGP'];
const PGP = LABELS.indexOf('PGP');
/** The least run of base64 characters that makes text between markers key material. */
const MATERIAL_RUN = 16;

/** Whether `word` ends right before `i` in `text`. */
function endsAt(text: string, word: string, i: number): boolean {
  return i >= word.length && text.startsWith(word, i - word.length);
}

/**
 * Where the separator between two words of a marker ending right before `i` starts (a space; `%20`
 * in URL-encoded text; `+` in a query or form), or -1.
 */
function separatorBefore(text: string, i: number, plusIsSpace: boolean): number {
  const c = text.charCodeAt(i - 1);
  if (c === 32 || (c === 43 && plusIsSpace)) return i - 1;
  return byteEscapedBefore(text, i) === 0x20 ? i - 3 : -1;
}

/** Where the separator starting at `i` ends (see `separatorBefore`), or -1. */
function separatorAfter(text: string, i: number, plusIsSpace: boolean): number {
  const c = text.charCodeAt(i);
  if (c === 32 || (c === 43 && plusIsSpace)) return i + 1;
  return percentByte(text, i) === 0x20 ? i + 3 : -1;
}

/** What opens or closes a key: a BEGIN line, a BEGIN line whose `-----BEGIN` is masked, an END line. */
const OPENS = 1;
const OPENS_MASKED = 2;
const CLOSES = 3;

/** A marker line: where it starts and ends, its label (an index of `LABELS`, -1: none), what it does. */
interface Marker {
  start: number;
  end: number;
  label: number;
  role: number;
}

/** What the words of a marker ending right before `i` are after (`-----BEGIN`, `-----END` or a mask's `*`), or 0. */
function roleBefore(text: string, i: number): number {
  if (endsAt(text, BEGIN, i)) return OPENS;
  if (endsAt(text, END, i)) return CLOSES;
  return text.charCodeAt(i - 1) === 42 ? OPENS_MASKED : 0;
}

/**
 * The marker line ending at `end` (right after its `KEY-----` or `BLOCK-----`), read back:
 * `PRIVATE KEY` (`PRIVATE KEY BLOCK` after `PGP`), a label or none, then `-----BEGIN`,
 * `-----END` or a mask; undefined for anything else (`PUBLIC KEY-----`, `CERTIFICATE-----`).
 */
function markerEndingAt(text: string, end: number, plusIsSpace: boolean): Marker | undefined {
  let i = end - 5;
  const block = endsAt(text, 'BLOCK', i);
  if (block) {
    i = separatorBefore(text, i - 5, plusIsSpace);
    if (i === -1 || !endsAt(text, 'KEY', i)) return undefined;
  }
  i = separatorBefore(text, i - 3, plusIsSpace);
  if (i === -1 || !endsAt(text, 'PRIVATE', i)) return undefined;
  i = separatorBefore(text, i - 7, plusIsSpace);
  if (i === -1) return undefined;
  let label = -1;
  let role = roleBefore(text, i);
  for (let k = 0; role === 0 && k < LABELS.length; k++) {
    if (!endsAt(text, LABELS[k], i)) continue;
    const j = separatorBefore(text, i - LABELS[k].length, plusIsSpace);
    if (j === -1) continue;
    role = roleBefore(text, j);
    if (role !== 0) {
      label = k;
      i = j;
    }
  }
  scanMeter.steps += end - i;
  if (role === 0 || (label === PGP) !== block) return undefined;
  return { start: role === OPENS ? i - BEGIN.length : role === CLOSES ? i - END.length : i, end, label, role };
}

/** The END line starting at `at` (`-----END …PRIVATE KEY-----`), read forward: its label and end, or undefined. */
function endLineAt(text: string, at: number, plusIsSpace: boolean): { label: number; end: number } | undefined {
  let i = separatorAfter(text, at + END.length, plusIsSpace);
  if (i === -1) return undefined;
  let label = -1;
  if (!text.startsWith('PRIVATE', i)) {
    label = LABELS.findIndex((l) => text.startsWith(l, i));
    if (label === -1) return undefined;
    i = separatorAfter(text, i + LABELS[label].length, plusIsSpace);
    if (i === -1 || !text.startsWith('PRIVATE', i)) return undefined;
  }
  i = separatorAfter(text, i + 7, plusIsSpace);
  if (i === -1 || !text.startsWith('KEY', i)) return undefined;
  i += 3;
  if (label === PGP) {
    i = separatorAfter(text, i, plusIsSpace);
    if (i === -1 || !text.startsWith('BLOCK', i)) return undefined;
    i += 5;
  }
  scanMeter.steps += i - at;
  return text.startsWith('-----', i) ? { label, end: i + 5 } : undefined;
}

const isBase64 = (c: number): boolean => (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 43 || c === 47;
const isBlank = (c: number): boolean => c === 32 || c === 9 || c === 10 || c === 13;
/** What key material is written with: base64 and `=`, blanks and line breaks, and the `\` and `%` of escaped ones. */
const isMaterial = (c: number): boolean => isBase64(c) || c === 61 || isBlank(c) || c === 92 || c === 37;

/** The length of the blank or line break at `i` (`\n` written as two characters, `%0A` and `%20` too; `+` in a query or form), or 0. */
function blankAt(text: string, i: number, plusIsSpace: boolean): number {
  const c = text.charCodeAt(i);
  if (isBlank(c) || (c === 43 && plusIsSpace)) return 1;
  if (c === 92) {
    const d = text.charCodeAt(i + 1);
    return d === 110 || d === 114 || d === 116 ? 2 : 0;
  }
  const b = percentByte(text, i);
  return b === 0x0a || b === 0x0d || b === 0x20 || b === 0x09 ? 3 : 0;
}

/** The length of the blank or line break ending right before `i` (see `blankAt`), or 0. */
function blankBefore(text: string, i: number, plusIsSpace: boolean): number {
  const c = text.charCodeAt(i - 1);
  if (isBlank(c) || (c === 43 && plusIsSpace)) return 1;
  if (i >= 2 && text.charCodeAt(i - 2) === 92 && (c === 110 || c === 114 || c === 116)) return 2;
  const b = byteEscapedBefore(text, i);
  return b === 0x0a || b === 0x0d || b === 0x20 || b === 0x09 ? 3 : 0;
}

/** `[from, to)` without the blanks and line breaks at either end, or undefined when nothing is left. */
function trimmed(text: string, from: number, to: number, plusIsSpace: boolean): Span | undefined {
  let s = from;
  let e = to;
  for (let k = 0; s < e && (k = blankAt(text, s, plusIsSpace)) > 0; ) s += k;
  for (let k = 0; e > s && (k = blankBefore(text, e, plusIsSpace)) > 0; ) e -= k;
  scanMeter.steps += s - from + to - e;
  return s < e ? { start: s, end: e } : undefined;
}

/** Whether `text[from, to)` holds a run of `MATERIAL_RUN` base64 characters: what key material holds, prose does not. */
function holdsMaterial(text: string, from: number, to: number): boolean {
  let run = 0;
  for (let i = from; i < to; i++) {
    run = isBase64(text.charCodeAt(i)) ? run + 1 : 0;
    if (run === MATERIAL_RUN) {
      scanMeter.steps += i + 1 - from;
      return true;
    }
  }
  scanMeter.steps += to - from;
  return false;
}

/** The key material from `from` to `to` as a span, when it is some (trimmed, holding a base64 run). */
function material(text: string, from: number, to: number, plusIsSpace: boolean): Span | undefined {
  const span = trimmed(text, from, to, plusIsSpace);
  return span !== undefined && holdsMaterial(text, span.start, span.end) ? span : undefined;
}

/** The length of the line break at `i` (`\n`, `\r\n`, or either written with escapes as two or four characters), or 0. */
function lineBreakAt(text: string, i: number): number {
  const c = text.charCodeAt(i);
  if (c === 13) return text.charCodeAt(i + 1) === 10 ? 2 : 1;
  if (c === 10) return 1;
  if (c !== 92) return 0;
  const d = text.charCodeAt(i + 1);
  if (d === 110) return 2;
  return d === 114 && text.startsWith('\\n', i + 2) ? 4 : 0;
}

/**
 * The `N` lines after `Private-Lines: N` of the PuTTY key whose header ends at `header`, as one
 * span from the first line's start to the last one's end (or to where the text ends), or
 * undefined. `nextLines` and `nextHeader`: where the next `Private-Lines:` and the next PuTTY
 * header are (the key's own lines come before the next key's header).
 */
function puttyLines(text: string, header: number, nextLines: (from: number) => number, nextHeader: (from: number) => number): Span | undefined {
  const at = nextLines(header);
  if (at === -1) return undefined;
  const other = nextHeader(header);
  if (other !== -1 && other < at) return undefined;
  const n = text.length;
  let i = at + PRIVATE_LINES.length;
  while (text.charCodeAt(i) === 32) i++;
  let count = 0;
  for (; i < n && count < 100_000; i++) {
    const c = text.charCodeAt(i);
    if (c < 48 || c > 57) break;
    count = count * 10 + c - 48;
  }
  const brk = lineBreakAt(text, i);
  scanMeter.steps += i - at;
  if (count === 0 || brk === 0) return undefined;
  const start = i + brk;
  let end = start;
  // Each line: base64 up to a line break (the last one may end the text).
  for (let lines = 0, j = start; lines < count && j < n; lines++) {
    let e = j;
    while (e < n && (isBase64(text.charCodeAt(e)) || text.charCodeAt(e) === 61)) e++;
    scanMeter.steps += e - j + 1;
    if (e === j) break;
    end = e;
    const next = lineBreakAt(text, e);
    if (next === 0) break;
    j = e + next;
  }
  return end > start ? { start, end } : undefined;
}

/**
 * The private keys' material in `text` (see the top): sorted, disjoint spans. `cut`: the text
 * was cut short, so a key opened and not closed runs to its end; `plusIsSpace`: the text is a
 * query string or a form body (`+` separates the marker's words).
 */
export function findPrivateKeys(text: string, cut = false, plusIsSpace = false): readonly Span[] {
  let spans: Span[] | undefined;
  const n = text.length;
  const nextEnd = nextMatch((from) => text.indexOf(END, from));
  const nextBegin = nextMatch((from) => text.indexOf(BEGIN, from));
  const nextLines = nextMatch((from) => text.indexOf(PRIVATE_LINES, from));
  const nextHeader = nextMatch((from) => text.indexOf(PUTTY, from));
  // Nothing before `floor` is read back again: it was masked, or holds a marker already read.
  let floor = 0;
  let from = 0;
  const add = (span: Span | undefined): void => {
    if (span === undefined) return;
    (spans ??= []).push(span);
    floor = span.end;
  };
  for (;;) {
    MARKERS.lastIndex = from;
    if (!MARKERS.test(text)) return spans ?? NO_SPANS;
    scanMeter.steps++;
    const m = MARKERS.lastIndex;
    from = m;
    if (text.charCodeAt(m - 1) === 121) {
      // `TTY-User-Key`: a PuTTY key's header.
      if (m < 14 || !text.startsWith(PUTTY, m - 14)) continue;
      const lines = puttyLines(text, m, nextLines, nextHeader);
      if (lines !== undefined && lines.start >= floor) {
        add(lines);
        from = lines.end;
      }
      continue;
    }
    const marker = markerEndingAt(text, m, plusIsSpace);
    if (marker === undefined || marker.start < floor) continue;
    if (marker.role === CLOSES) {
      // An END line whose BEGIN line is gone: the run of key material right before it.
      let s = marker.start;
      while (s > floor && isMaterial(text.charCodeAt(s - 1))) s--;
      scanMeter.steps += marker.start - s;
      add(material(text, s, marker.start, plusIsSpace));
      floor = m;
      continue;
    }
    // A BEGIN line: up to its END line, unless another key begins first.
    const close = nextEnd(m);
    const line = close === -1 ? undefined : endLineAt(text, close, plusIsSpace);
    const next = nextBegin(m);
    if (line !== undefined && line.label === marker.label && (next === -1 || next > close)) {
      add(material(text, m, close, plusIsSpace));
      floor = from = line.end;
      continue;
    }
    if (cut && next === -1) {
      // Cut short inside the last key: all of what is left.
      add(trimmed(text, m, n, plusIsSpace));
      return spans ?? NO_SPANS;
    }
    let e = m;
    while (e < n && isMaterial(text.charCodeAt(e))) e++;
    scanMeter.steps += e - m;
    add(material(text, m, e, plusIsSpace));
    floor = Math.max(floor, m);
    from = e;
  }
}
