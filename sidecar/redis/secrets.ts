/**
 * Secrets stored as data: values under a hash field (or stream field) whose name the masking
 * policy calls secret (`HSET user:7 password x`), and values of keys whose last word is one
 * (`SET user:7:password x`, `user:7:api_key`), masked in the command and in the reply that
 * returns them (`HGET user:7 password`, `HGETALL user:7`, `GET user:7:password`). The names are
 * the JSON and form maskers' under the same policy (`../mask/key-kind.ts`): the key families,
 * and the keys the policy adds (`MESHTAP_MASK_KEYS=ssn`: `HSET user:7 ssn x`, `SET user:7:ssn x`);
 * with `keyFamilies: false`, only its exact keys. A disabled policy masks nothing here.
 *
 * A field is matched like a JSON key (any family word in it: `password_hash` is a secret). A key
 * is a path of names: only its last segment (after the last `:`, `.` or `/`) names the value,
 * and only a family word (or phrase, or added key) that ends it counts: `user:7:password`,
 * `session_token`, `cfg:api-key` are secrets; `user:7:password_policy`, `password:reset:queue`,
 * `user:7:pin_code` are not. Names are looked at only where a command puts a field or a key whose
 * value it carries, and a key is first tested with the policy's `namePrefilter` (native
 * searches), so GET and SET of ordinary keys cost about nothing.
 */
import { keyKind, namePrefilter, storedNameKind } from '../mask/key-kind.ts';
import { DEFAULT_MASK_POLICY, type MaskPolicy, type SensitiveKind } from '../mask/policy.ts';
import { MASK, type CommandArg } from './render.ts';
import type { RespValue } from './resp-reader.ts';

/** Which parts of a command's reply hold secrets. */
export type ReplySecrets =
  /** The reply itself (GET of a secret key, HGET of a secret field). */
  | { shape: 'value'; kind: SensitiveKind }
  /** An array aligned with the names asked for (MGET, HMGET): `kinds[i]` for element i. */
  | { shape: 'values'; kinds: ReadonlyArray<SensitiveKind | undefined> }
  /** Field/value pairs, flat (`HGETALL`, RESP3 maps) or as 2-element arrays (`HRANDFIELD … WITHVALUES`). */
  | { shape: 'pairs' }
  /** HSCAN: `[cursor, [field, value, …]]`. */
  | { shape: 'scan' }
  /** Stream entries at any depth (`[id, [field, value, …]]`): XRANGE, XREAD, XCLAIM, … */
  | { shape: 'entries' };

export interface DataSecrets {
  /** Argument positions holding a secret value, with its kind. */
  masked: Map<number, SensitiveKind>;
  reply?: ReplySecrets;
}

/** Longest name looked at: longer fields and keys are taken for data, not names. */
const MAX_NAME = 256;

/** A short argument as upper-cased text (option words), else ''. */
function word(a: CommandArg | undefined): string {
  return a === undefined || a.data.length > 16 ? '' : a.data.toString('latin1').toUpperCase();
}

function count(a: CommandArg | undefined): number | undefined {
  if (a === undefined || a.data.length > 9) return undefined;
  const t = a.data.toString('latin1');
  return /^\d+$/.test(t) ? Number(t) : undefined;
}

/** Whether a key's last segment may name a secret under a policy. */
const mayNameSecret = namePrefilter();

/** The kind of secret a hash or stream field name names under the policy. */
export function fieldKind(a: CommandArg | undefined, policy: MaskPolicy = DEFAULT_MASK_POLICY): SensitiveKind | undefined {
  if (a === undefined || a.data.length === 0 || a.data.length > MAX_NAME) return undefined;
  return keyKind(policy, a.data.toString('latin1'));
}

/** The kind of a key's value under the policy, from the key's last segment. */
export function keyNameKind(a: CommandArg | undefined, policy: MaskPolicy = DEFAULT_MASK_POLICY): SensitiveKind | undefined {
  if (a === undefined || a.data.length === 0 || a.data.length > MAX_NAME) return undefined;
  const key = a.data.toString('latin1');
  const segment = key.slice(Math.max(key.lastIndexOf(':'), key.lastIndexOf('.'), key.lastIndexOf('/')) + 1);
  if (!mayNameSecret(policy)(segment)) return undefined;
  return storedNameKind(policy, segment);
}

/** Field/value pairs from `from` on: values of secret fields (or, `keys`, of secret keys). */
function pairs(args: readonly CommandArg[], from: number, masked: Map<number, SensitiveKind>, policy: MaskPolicy, keys = false): void {
  for (let i = from; i + 1 < args.length; i += 2) {
    const kind = keys ? keyNameKind(args[i], policy) : fieldKind(args[i], policy);
    if (kind !== undefined) masked.set(i + 1, kind);
  }
}

/** The kinds of `args[from…]`, names of fields (or, `keys`, of keys). */
function kindsFrom(args: readonly CommandArg[], from: number, policy: MaskPolicy, keys = false): Array<SensitiveKind | undefined> {
  const kinds: Array<SensitiveKind | undefined> = [];
  for (let i = from; i < args.length; i++) kinds.push(keys ? keyNameKind(args[i], policy) : fieldKind(args[i], policy));
  return kinds;
}

/** `… FIELDS numfields f1 …` (HSETEX, HGETEX, HGETDEL): the position of the first field, or -1. */
function fieldsAt(args: readonly CommandArg[]): number {
  for (let i = 2; i < Math.min(args.length, 8); i++) if (word(args[i]) === 'FIELDS' && count(args[i + 1]) !== undefined) return i + 2;
  return -1;
}

/** XADD key [NOMKSTREAM] [MAXLEN|MINID [=|~] threshold [LIMIT count]] id field value …: the first field. */
function xaddFields(args: readonly CommandArg[]): number {
  let i = 2;
  while (i < args.length) {
    const w = word(args[i]);
    if (w === 'NOMKSTREAM' || w === 'KEEPREF' || w === 'DELREF' || w === 'ACKED') i++;
    else if (w === 'MAXLEN' || w === 'MINID') {
      i++;
      if (word(args[i]) === '=' || word(args[i]) === '~') i++;
      i++;
      if (word(args[i]) === 'LIMIT') i += 2;
    } else break;
  }
  // args[i] is the entry id.
  return i + 1;
}

/** Positions of the value a key-value command writes (SET key value …). */
const VALUE_AT: Readonly<Record<string, number>> = { SET: 2, SETNX: 2, GETSET: 2, APPEND: 2, SETEX: 3, PSETEX: 3, SETRANGE: 3 };
/** Commands whose reply is the value of their key (`args[1]`). */
const VALUE_REPLY = new Set(['GET', 'GETDEL', 'GETEX', 'GETSET', 'GETRANGE', 'SUBSTR', 'SET']);
const ENTRY_REPLY = new Set(['XRANGE', 'XREVRANGE', 'XREAD', 'XREADGROUP', 'XCLAIM', 'XAUTOCLAIM']);

/** The data secrets of a command (`name` as `describeCommand` gives it) under the policy; none when it is disabled. */
export function dataSecrets(name: string, args: readonly CommandArg[], policy: MaskPolicy = DEFAULT_MASK_POLICY): DataSecrets | undefined {
  if (!policy.enabled) return undefined;
  const masked = new Map<number, SensitiveKind>();
  let reply: ReplySecrets | undefined;
  switch (name) {
    case 'HSET':
    case 'HMSET':
    case 'HSETNX':
      pairs(args, 2, masked, policy);
      break;
    case 'HSETEX': {
      const at = fieldsAt(args);
      if (at !== -1) pairs(args, at, masked, policy);
      break;
    }
    case 'XADD':
      pairs(args, xaddFields(args), masked, policy);
      break;
    case 'MSET':
    case 'MSETNX':
      pairs(args, 1, masked, policy, true);
      break;
    case 'HGET': {
      const kind = fieldKind(args[2], policy);
      if (kind !== undefined) reply = { shape: 'value', kind };
      break;
    }
    case 'HMGET':
    case 'HGETDEL':
    case 'HGETEX': {
      const at = name === 'HMGET' ? 2 : fieldsAt(args);
      if (at === -1) break;
      const kinds = kindsFrom(args, at, policy);
      if (kinds.some((k) => k !== undefined)) reply = { shape: 'values', kinds };
      break;
    }
    case 'MGET': {
      const kinds = kindsFrom(args, 1, policy, true);
      if (kinds.some((k) => k !== undefined)) reply = { shape: 'values', kinds };
      break;
    }
    case 'HGETALL':
      reply = { shape: 'pairs' };
      break;
    case 'HRANDFIELD':
      if (word(args[3]) === 'WITHVALUES') reply = { shape: 'pairs' };
      break;
    case 'HSCAN':
      if (!args.slice(3).some((a) => word(a) === 'NOVALUES')) reply = { shape: 'scan' };
      break;
    default:
      if (ENTRY_REPLY.has(name)) reply = { shape: 'entries' };
  }
  const valueAt = VALUE_AT[name];
  if (valueAt !== undefined || VALUE_REPLY.has(name)) {
    const kind = keyNameKind(args[1], policy);
    if (kind !== undefined) {
      if (valueAt !== undefined && valueAt < args.length) masked.set(valueAt, kind);
      if (VALUE_REPLY.has(name)) reply = { shape: 'value', kind };
    }
  }
  return masked.size === 0 && reply === undefined ? undefined : { masked, reply };
}

const MASKED: RespValue = Object.freeze({ kind: 'simple', text: MASK }) as RespValue;

/** A string the reply carries (not a null, an error, a number or an aggregate). */
const isString = (v: RespValue | undefined): boolean => v !== undefined && (v.kind === 'bulk' || v.kind === 'verbatim' || v.kind === 'simple');

/** The text of a name in a reply. */
function nameOf(v: RespValue | undefined): string | undefined {
  if (v === undefined || v.data === undefined || v.data.length > MAX_NAME) return v?.text;
  return v.data.toString('latin1');
}

/** Values of secret fields in flat `[f, v, …]` items (a copy when one changed). */
function maskPairs(items: readonly RespValue[], found: Set<SensitiveKind>, policy: MaskPolicy): RespValue[] | undefined {
  let out: RespValue[] | undefined;
  // RESP3 HRANDFIELD … WITHVALUES: each pair an array of two.
  if (items.length > 0 && items[0].items !== undefined) {
    items.forEach((pair, i) => {
      const masked = pair.items === undefined ? undefined : maskPairs(pair.items, found, policy);
      if (masked !== undefined) (out ??= items.slice())[i] = { ...pair, items: masked };
    });
    return out;
  }
  for (let i = 0; i + 1 < items.length; i += 2) {
    const name = nameOf(items[i]);
    const kind = name === undefined ? undefined : keyKind(policy, name);
    if (kind !== undefined && isString(items[i + 1])) {
      (out ??= items.slice())[i + 1] = MASKED;
      found.add(kind);
    }
  }
  return out;
}

const STREAM_ID = /^\d+-\d+$/;

/** Stream entries `[id, [f, v, …]]` anywhere in `v`, their secret values masked. */
function maskEntries(v: RespValue, found: Set<SensitiveKind>, depth: number, policy: MaskPolicy): RespValue | undefined {
  const items = v.items;
  if (items === undefined || depth > 32) return undefined;
  if (items.length === 2 && items[1].items !== undefined && STREAM_ID.test(nameOf(items[0]) ?? '')) {
    const fields = maskPairs(items[1].items, found, policy);
    return fields === undefined ? undefined : { ...v, items: [items[0], { ...items[1], items: fields }] };
  }
  let out: RespValue[] | undefined;
  items.forEach((item, i) => {
    const masked = maskEntries(item, found, depth + 1, policy);
    if (masked !== undefined) (out ??= items.slice())[i] = masked;
  });
  return out === undefined ? undefined : { ...v, items: out };
}

/**
 * The reply as it may be shown: a copy with secret values replaced by `****` (the reply itself
 * when nothing was), and the kinds masked. `policy`: the one that made `secrets`, which names
 * the secret fields of replies that carry their names (`HGETALL`, `HSCAN`, stream entries).
 */
export function maskReply(v: RespValue, secrets: ReplySecrets, policy: MaskPolicy = DEFAULT_MASK_POLICY): { value: RespValue; kinds: SensitiveKind[] } {
  const found = new Set<SensitiveKind>();
  let value = v;
  switch (secrets.shape) {
    case 'value':
      if (isString(v) && v.kind !== 'simple') {
        value = MASKED;
        found.add(secrets.kind);
      }
      break;
    case 'values': {
      const items = v.items;
      if (items === undefined) break;
      let out: RespValue[] | undefined;
      secrets.kinds.forEach((kind, i) => {
        if (kind !== undefined && isString(items[i])) {
          (out ??= items.slice())[i] = MASKED;
          found.add(kind);
        }
      });
      if (out !== undefined) value = { ...v, items: out };
      break;
    }
    case 'pairs': {
      const out = v.items === undefined ? undefined : maskPairs(v.items, found, policy);
      if (out !== undefined) value = { ...v, items: out };
      break;
    }
    case 'scan': {
      const page = v.items?.[1];
      const out = page?.items === undefined ? undefined : maskPairs(page.items, found, policy);
      if (out !== undefined && v.items !== undefined && page !== undefined) value = { ...v, items: [v.items[0], { ...page, items: out }, ...v.items.slice(2)] };
      break;
    }
    case 'entries':
      value = maskEntries(v, found, 0, policy) ?? v;
      break;
  }
  return { value, kinds: [...found] };
}
