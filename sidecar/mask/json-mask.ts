/**
 * Masking inside JSON text without re-serialising it: a scanner finds the spans to replace and
 * everything else (whitespace, number spelling, key order, big integers) stays byte-identical.
 */
import { cardDigits, MASK, MIN_MATCH_LENGTH, scanTriggers } from './detectors.ts';
import { maskJsonText } from './json-escapes.ts';
import { keyKind } from './key-kind.ts';
import type { MaskPolicy, SensitiveKind } from './policy.ts';
import { scanMeter } from './scan-meter.ts';
import { shortestKeyValue } from './text-pairs.ts';

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
 * A name and its value as two members of one object: `{"name": "DB_PASSWORD", "value": "…"}`
 * (a Kubernetes env entry, a HAR header or cookie), `{"Key": "password", "Value": "…"}` (cloud
 * tags), `{"Name": "/app/db/password", "Value": "…"}` (parameter stores). The value is masked
 * when the name names a secret, as if it were the value's own key. Both members are strings'
 * keys matched exactly (these spellings only: `label`, `id` and the like name things, not keys).
 */
const PAIR_NAME_KEYS: ReadonlySet<string> = new Set(['name', 'Name', 'NAME', 'key', 'Key', 'KEY']);
const PAIR_VALUE_KEYS: ReadonlySet<string> = new Set(['value', 'Value', 'VALUE']);

/**
 * A Kubernetes Secret read or written through the API (an operator, a controller, a job in a
 * meshed pod): every value of its `data` (base64) and `stringData` is a secret, whatever its key
 * (`tls.key`, `.dockerconfigjson`, `config.yaml`). Found by the object's `"kind": "Secret"`, in
 * either member order; in a `"kind": "SecretList"` its `items` are Secrets (the API server writes
 * `kind` before `items`, and only then is it known). A watch event's `object` is a Secret of its own.
 */
const SECRET_KIND = 'Secret';
const SECRET_LIST_KIND = 'SecretList';
const SECRET_DATA_KEYS: ReadonlySet<string> = new Set(['data', 'stringData']);

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
 * Where a value sits: the keys and indexes from the root down to it (`keys[0..depth)`), kept as
 * one stack per document. The JSONPath text is only built for values that produce a finding;
 * most documents have none, and building it (or an object per step) for every key cost more
 * than the scan.
 */
function pathText(keys: readonly (string | number)[], depth: number): string {
  let out = '$';
  for (let d = 0; d < depth; d++) {
    const key = keys[d];
    out = typeof key === 'number' ? `${out}[${key}]` : childPath(out, key);
  }
  return out;
}

/** Slots of the key table (a power of two), and the longest key it keeps. */
const KEY_SLOTS = 1024;
const KEY_MAX_LENGTH = 64;
const keyTable: Array<string | undefined> = new Array<string | undefined>(KEY_SLOTS).fill(undefined);

/**
 * The key `text[start, end)` (no escapes in it) as a string, without cutting a new one out of
 * the document when the same key was seen before: documents repeat their keys (28 items of
 * `sku`, `qty`, `price` in the bench's order), and a short slice is a copy. A direct-mapped
 * table by a hash of the characters; a slot holds the last key that hashed to it, compared
 * in place (`startsWith`) before it is used.
 */
function keyAt(text: string, start: number, end: number): string {
  const length = end - start;
  if (length > KEY_MAX_LENGTH) return text.slice(start, end);
  let h = length;
  for (let k = start; k < end; k++) h = Math.imul(h ^ text.charCodeAt(k), 0x01000193);
  const slot = (h ^ (h >>> 15)) & (KEY_SLOTS - 1);
  const known = keyTable[slot];
  if (known !== undefined && known.length === length && text.startsWith(known, start)) return known;
  const key = text.slice(start, end);
  keyTable[slot] = key;
  return key;
}

/** The JSON string `text[start, end)` (quotes included) as its value. */
function stringAt(text: string, start: number, end: number): string {
  const raw = text.slice(start + 1, end - 1);
  if (!raw.includes('\\')) return raw;
  try {
    return JSON.parse(text.slice(start, end)) as string;
  } catch {
    return raw;
  }
}

/**
 * Mask a JSON document: values under sensitive keys become "****" whatever their type (and the
 * value of a name/value pair whose name is one, `PAIR_NAME_KEYS`), and JWTs,
 * cards (also as bare numbers), e-mails and `KEY=VALUE` pairs inside other values are handled
 * like free text, read with their escapes decoded (`json-escapes.ts`: `card\u00204111…` holds a
 * card, masked as `card\u0020****1111`). Returns undefined when `text` is not exactly one JSON
 * value (the caller falls back to patterns).
 */
export function maskJson(text: string, policy: MaskPolicy, findings: JsonFinding[]): string | undefined {
  const n = text.length;
  let i = 0;
  const edits: Edit[] = [];
  const found: JsonFinding[] = [];
  const keys: (string | number)[] = [];
  // One callback for the document's string values (not a closure per value): the depth of the
  // value being scanned.
  let hitDepth = 0;
  const stringHit = (kind: SensitiveKind, masked: boolean): void => void found.push({ path: pathText(keys, hitDepth), kind, masked });
  // A string value holding nothing `maskText` starts from is not cut out of the document to be
  // scanned, unless it holds an escape, which may hide one (`\u0065yJ…`).
  const mayMatch = scanTriggers(text, policy);
  // The first backslash at or after the last string value asked about (-1: none is left).
  let escapeAt = text.indexOf('\\');
  // Shorter strings hold nothing a detector could match (a `KEY=V` is the shortest).
  const shortest = policy.patterns.length > 0 ? 0 : Math.min(MIN_MATCH_LENGTH, shortestKeyValue(policy));

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

  /** A member's value that holds a secret (a name/value pair's, a Secret's data): replaced whole, what was found inside it dropped. */
  const maskMemberValue = (v: { start: number; end: number; key: string }, kind: SensitiveKind, depth: number): void => {
    for (let e = edits.length - 1; e >= 0; e--) if (edits[e].start >= v.start && edits[e].end <= v.end) edits.splice(e, 1);
    found.push({ path: childPath(pathText(keys, depth), v.key), kind, masked: true });
    edits.push({ start: v.start, end: v.end, text: MASKED_VALUE });
  };

  /** `quiet`: inside a value that is replaced whole, only skip; `secret`: an item of a SecretList. */
  const value = (depth: number, quiet: boolean, secret = false): void => {
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
      // A name/value pair among the members (`PAIR_NAME_KEYS`): what the name names, where the value is.
      let pairKind: SensitiveKind | undefined;
      let pairValue: { start: number; end: number; key: string } | undefined;
      // A Kubernetes Secret: its kind, and where its data members are.
      let objectKind: string | undefined;
      let secretData: Array<{ start: number; end: number; key: string }> | undefined;
      for (;;) {
        ws();
        const ks = i;
        skipString();
        let key = keyAt(text, ks + 1, i - 1);
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
        keys[depth] = key;
        ws();
        const vs = i;
        value(depth + 1, quiet || kind !== undefined, key === 'items' && objectKind === SECRET_LIST_KIND);
        if (kind !== undefined) {
          found.push({ path: pathText(keys, depth + 1), kind, masked: true });
          edits.push({ start: vs, end: i, text: MASKED_VALUE });
        } else if (!quiet) {
          if (PAIR_NAME_KEYS.has(key) && text.charCodeAt(vs) === 34) pairKind = keyKind(policy, stringAt(text, vs, i));
          else if (PAIR_VALUE_KEYS.has(key)) pairValue = { start: vs, end: i, key };
          else if (key === 'kind' && text.charCodeAt(vs) === 34) objectKind = stringAt(text, vs, i);
          else if (SECRET_DATA_KEYS.has(key)) (secretData ??= []).push({ start: vs, end: i, key });
        }
        ws();
        const d = text.charCodeAt(i++);
        if (d === 44 /* , */) continue;
        if (d === 125 /* } */) {
          if (pairKind !== undefined && pairValue !== undefined) maskMemberValue(pairValue, pairKind, depth);
          if (secretData !== undefined && (secret || objectKind === SECRET_KIND)) for (const member of secretData) maskMemberValue(member, 'secret', depth);
          return;
        }
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
        keys[depth] = idx;
        value(depth + 1, quiet, secret);
        ws();
        const d = text.charCodeAt(i++);
        if (d === 44) continue;
        if (d === 93) return;
        throw INVALID;
      }
    }
    if (c === 34 /* " */) {
      skipString();
      // Nothing in a string this short can match (maskText would return it as it is).
      if (quiet || i - start - 2 < shortest) return;
      if (!mayMatch(start + 1, i - 1)) {
        if (escapeAt !== -1 && escapeAt <= start) escapeAt = text.indexOf('\\', start + 1);
        if (escapeAt === -1 || escapeAt >= i - 1) return;
      }
      const inner = text.slice(start + 1, i - 1);
      hitDepth = depth;
      const masked = maskJsonText(inner, policy, stringHit);
      if (masked !== inner) edits.push({ start: start + 1, end: i - 1, text: masked });
      return;
    }
    if (c === 45 || (c >= 48 && c <= 57)) {
      // Sticky `test`: the match's end without a match array or its text.
      NUMBER.lastIndex = i;
      if (!NUMBER.test(text)) throw INVALID;
      const length = NUMBER.lastIndex - i;
      i += length;
      scanMeter.steps += length;
      if (!quiet && length >= 13 && length <= 19) {
        const digits = text.slice(start, i);
        if (cardDigits(digits) !== undefined) {
          found.push({ path: pathText(keys, depth), kind: 'card', masked: policy.maskCards });
          if (policy.maskCards) edits.push({ start, end: i, text: JSON.stringify(MASK + digits.slice(-4)) });
        }
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
    value(0, false);
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
