/**
 * Masking inside JSON text without re-serialising it: a scanner finds the spans to replace and
 * everything else (whitespace, number spelling, key order, big integers) stays byte-identical.
 */
import { cardDigits, maskText, MASK } from './detectors.ts';
import { keyKind } from './key-kind.ts';
import type { MaskPolicy, SensitiveKind } from './policy.ts';
import { scanMeter } from './scan-meter.ts';

export interface JsonFinding {
  /** JSONPath of the value, e.g. `$.user.password`, `$.items[0].token`. */
  path: string;
  kind: SensitiveKind;
  masked: boolean;
}

interface Edit {
  start: number;
  end: number;
  text: string;
}

const MAX_DEPTH = 256;
const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const IDENT = /^[A-Za-z_$][A-Za-z0-9_$]*$/;
const MASKED_VALUE = JSON.stringify(MASK);

/**
 * Thrown to leave the scan when the text is not JSON (a truncated body is the common case): one
 * shared object, not an Error — building an Error captures a stack, and that cost more than the
 * whole scan of a 1 KiB body.
 */
const INVALID: unique symbol = Symbol('invalid JSON');

function childPath(path: string, key: string): string {
  return IDENT.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`;
}

/**
 * Where a value sits, as a chain of steps from the root. The JSONPath text is only built for
 * values that produce a finding; most documents have none, and building it for every key cost
 * more than the scan.
 */
interface PathStep {
  readonly parent: PathStep | undefined;
  readonly key: string | number;
}

function pathText(p: PathStep | undefined): string {
  if (p === undefined) return '$';
  const base = pathText(p.parent);
  return typeof p.key === 'number' ? `${base}[${p.key}]` : childPath(base, p.key);
}

/**
 * Mask a JSON document: values under sensitive keys become "****" whatever their type, and JWTs,
 * cards (also as bare numbers) and e-mails inside other values are handled like free text.
 * Returns undefined when `text` is not exactly one JSON value (the caller falls back to patterns).
 */
export function maskJson(text: string, policy: MaskPolicy, findings: JsonFinding[]): string | undefined {
  const n = text.length;
  let i = 0;
  const edits: Edit[] = [];
  const found: JsonFinding[] = [];

  const ws = (): void => {
    while (i < n) {
      const c = text.charCodeAt(i);
      if (c === 32 || c === 9 || c === 10 || c === 13) {
        scanMeter.steps++;
        i++;
      }
      else break;
    }
  };

  const skipString = (): void => {
    if (text.charCodeAt(i) !== 34) throw INVALID;
    let j = i + 1;
    for (;;) {
      const q = text.indexOf('"', j);
      if (q === -1) throw INVALID;
      let backslashes = 0;
      for (let k = q - 1; k > i && text.charCodeAt(k) === 92; k--) {
        scanMeter.steps++;
        backslashes++;
      }
      j = q + 1;
      if (backslashes % 2 === 0) break;
    }
    for (let k = i + 1; k < j - 1; k++) if (text.charCodeAt(k) < 32) throw INVALID;
    scanMeter.steps += j - i;
    i = j;
  };

  /** `quiet`: inside a value that is replaced whole, only skip. */
  const value = (path: PathStep | undefined, depth: number, quiet: boolean): void => {
    if (depth > MAX_DEPTH) throw INVALID;
    ws();
    const start = i;
    const c = text.charCodeAt(i);
    if (c === 123 /* { */) {
      i++;
      ws();
      if (text.charCodeAt(i) === 125) {
        i++;
        return;
      }
      for (;;) {
        ws();
        const ks = i;
        skipString();
        let key = text.slice(ks + 1, i - 1);
        if (key.includes('\\')) {
          try {
            key = JSON.parse(text.slice(ks, i)) as string;
          } catch {
            throw INVALID;
          }
        }
        ws();
        if (text.charCodeAt(i) !== 58 /* : */) throw INVALID;
        i++;
        const kind = quiet ? undefined : keyKind(policy, key);
        const path2: PathStep = { parent: path, key };
        ws();
        const vs = i;
        value(path2, depth + 1, quiet || kind !== undefined);
        if (kind !== undefined) {
          found.push({ path: pathText(path2), kind, masked: true });
          edits.push({ start: vs, end: i, text: MASKED_VALUE });
        }
        ws();
        const d = text.charCodeAt(i++);
        if (d === 44 /* , */) continue;
        if (d === 125 /* } */) return;
        throw INVALID;
      }
    }
    if (c === 91 /* [ */) {
      i++;
      ws();
      if (text.charCodeAt(i) === 93) {
        i++;
        return;
      }
      for (let idx = 0; ; idx++) {
        value({ parent: path, key: idx }, depth + 1, quiet);
        ws();
        const d = text.charCodeAt(i++);
        if (d === 44) continue;
        if (d === 93) return;
        throw INVALID;
      }
    }
    if (c === 34 /* " */) {
      skipString();
      if (quiet) return;
      const inner = text.slice(start + 1, i - 1);
      const masked = maskText(inner, policy, (kind, m) => found.push({ path: pathText(path), kind, masked: m }));
      if (masked !== inner) edits.push({ start: start + 1, end: i - 1, text: masked });
      return;
    }
    if (c === 45 || (c >= 48 && c <= 57)) {
      NUMBER.lastIndex = i;
      const m = NUMBER.exec(text);
      if (m === null) throw INVALID;
      i += m[0].length;
      scanMeter.steps += m[0].length;
      if (!quiet && m[0].length >= 13 && m[0].length <= 19 && cardDigits(m[0]) !== undefined) {
        found.push({ path: pathText(path), kind: 'card', masked: policy.maskCards });
        if (policy.maskCards) edits.push({ start, end: i, text: JSON.stringify(MASK + m[0].slice(-4)) });
      }
      return;
    }
    for (const lit of ['true', 'false', 'null']) {
      if (text.startsWith(lit, i)) {
        i += lit.length;
        return;
      }
    }
    throw INVALID;
  };

  try {
    value(undefined, 0, false);
    ws();
    if (i !== n) throw INVALID;
  } catch (err) {
    if (err === INVALID || err instanceof RangeError) return undefined;
    throw err;
  }
  findings.push(...found);
  if (edits.length === 0) return text;
  edits.sort((a, b) => a.start - b.start);
  let out = '';
  let last = 0;
  for (const e of edits) {
    out += text.slice(last, e.start) + e.text;
    last = e.end;
  }
  return out + text.slice(last);
}
