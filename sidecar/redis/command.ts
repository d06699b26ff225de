/**
 * What a record says about a Redis command besides its text: a method (`GET`, `CONFIG SET`), a
 * path (the first key, so calls group by the data they touch) and which arguments are secrets.
 * Only the session knows where a password sits in a command (`AUTH user pw`, `HELLO 3 AUTH u pw`),
 * or which value a secret field or key holds (`secrets.ts`), so it masks them at the source; the
 * general masking policy never sees the raw value. Under a policy with `enabled: false` nothing
 * is masked here, credentials included: as `maskRecord` then ships an `Authorization` header.
 */
import { DEFAULT_MASK_POLICY, type MaskPolicy, type SensitiveKind } from '../mask/policy.ts';
import { plainText, type CommandArg } from './render.ts';
import { dataSecrets, type ReplySecrets } from './secrets.ts';

export interface CommandInfo {
  /** Upper-cased command name; container commands with their subcommand (`CONFIG GET`). */
  name: string;
  /** The first key, when the command has one and it was sent. */
  key?: string;
  /** Argument positions holding credentials or secret values. */
  masked: Set<number>;
  /** Kinds of what `masked` holds (`password` for credentials), first-seen order. */
  sensitive: SensitiveKind[];
  /** Which parts of the reply hold secrets, when some may. */
  reply?: ReplySecrets;
}

/** Commands whose first argument is a subcommand (`CONFIG GET`, `CLIENT REPLY`). */
const CONTAINERS = new Set([
  'ACL', 'CLIENT', 'CLUSTER', 'COMMAND', 'CONFIG', 'FUNCTION', 'LATENCY', 'MEMORY', 'MODULE',
  'OBJECT', 'PUBSUB', 'SCRIPT', 'SLOWLOG', 'XGROUP', 'XINFO',
]);

/** Commands whose first key is their first argument. */
const KEY_FIRST = new Set(
  `APPEND BITCOUNT BITFIELD BITFIELD_RO BITPOS BLMOVE BLPOP BRPOP BRPOPLPUSH BZPOPMAX BZPOPMIN COPY
  DECR DECRBY DEL DUMP EXISTS EXPIRE EXPIREAT EXPIRETIME GEOADD GEODIST GEOHASH GEOPOS GEORADIUS
  GEORADIUS_RO GEORADIUSBYMEMBER GEORADIUSBYMEMBER_RO GEOSEARCH GEOSEARCHSTORE GET GETBIT GETDEL
  GETEX GETRANGE GETSET HDEL HEXISTS HEXPIRE HGET HGETALL HINCRBY HINCRBYFLOAT HKEYS HLEN HMGET
  HMSET HRANDFIELD HSCAN HSET HSETNX HSTRLEN HVALS INCR INCRBY INCRBYFLOAT LCS LINDEX LINSERT LLEN
  LMOVE LPOP LPOS LPUSH LPUSHX LRANGE LREM LSET LTRIM MGET MSET MSETNX PERSIST PEXPIRE PEXPIREAT
  PEXPIRETIME PFADD PFCOUNT PFMERGE PSETEX PTTL RENAME RENAMENX RESTORE RPOP RPOPLPUSH RPUSH RPUSHX
  SADD SCARD SDIFF SDIFFSTORE SET SETBIT SETEX SETNX SETRANGE SINTER SINTERSTORE SISMEMBER
  SMEMBERS SMISMEMBER SMOVE SORT SORT_RO SPOP SRANDMEMBER SREM SSCAN STRLEN SUBSTR SUNION
  SUNIONSTORE TOUCH TTL TYPE UNLINK WATCH XACK XADD XAUTOCLAIM XCLAIM XDEL XLEN XPENDING XRANGE
  XREVRANGE XSETID XTRIM ZADD ZCARD ZCOUNT ZDIFFSTORE ZINCRBY ZINTERSTORE ZLEXCOUNT ZMSCORE ZPOPMAX
  ZPOPMIN ZRANDMEMBER ZRANGE ZRANGEBYLEX ZRANGEBYSCORE ZRANGESTORE ZRANK ZREM ZREMRANGEBYLEX
  ZREMRANGEBYRANK ZREMRANGEBYSCORE ZREVRANGE ZREVRANGEBYLEX ZREVRANGEBYSCORE ZREVRANK ZSCAN ZSCORE
  ZUNIONSTORE`.split(/\s+/),
);

/** `numkeys` position: the first key follows it (when numkeys > 0). */
const NUMKEYS_AT: Record<string, number> = {
  EVAL: 2, EVALSHA: 2, EVAL_RO: 2, EVALSHA_RO: 2, FCALL: 2, FCALL_RO: 2,
  ZUNION: 1, ZINTER: 1, ZDIFF: 1, ZINTERCARD: 1, SINTERCARD: 1, LMPOP: 1, ZMPOP: 1,
  BLMPOP: 2, BZMPOP: 2,
};

/** Container subcommands that take a key right after the subcommand. */
const SUB_KEY = new Set([
  'OBJECT ENCODING', 'OBJECT FREQ', 'OBJECT IDLETIME', 'OBJECT REFCOUNT', 'MEMORY USAGE',
  'XINFO STREAM', 'XINFO GROUPS', 'XINFO CONSUMERS', 'XGROUP CREATE', 'XGROUP SETID', 'XGROUP DESTROY',
  'XGROUP CREATECONSUMER', 'XGROUP DELCONSUMER',
]);

/** CONFIG parameters whose values are secrets. */
const SECRET_CONFIG = new Set(['requirepass', 'masterauth']);

export const upper = (a: CommandArg | undefined): string => (a === undefined ? '' : plainText(a.data).toUpperCase());

/** The argument as a number, when it is one (numkeys, protocol version). */
function intArg(a: CommandArg | undefined): number | undefined {
  if (a === undefined || a.data.length > 12) return undefined;
  const t = a.data.toString('latin1');
  return /^\d+$/.test(t) ? Number(t) : undefined;
}

function keyIndex(name: string, args: readonly CommandArg[]): number | undefined {
  if (KEY_FIRST.has(name)) return 1;
  if (SUB_KEY.has(name)) return 2;
  if (name === 'BITOP') return 2;
  const nk = NUMKEYS_AT[name];
  if (nk !== undefined) {
    const n = intArg(args[nk]);
    return n !== undefined && n > 0 ? nk + 1 : undefined;
  }
  if (name === 'XREAD' || name === 'XREADGROUP') {
    for (let i = 1; i < args.length; i++) if (upper(args[i]) === 'STREAMS') return i + 1;
    return undefined;
  }
  if (name === 'MIGRATE') {
    if (args[3] !== undefined && args[3].size > 0) return 3;
    for (let i = 6; i < args.length; i++) if (upper(args[i]) === 'KEYS') return i + 1;
  }
  return undefined;
}

function maskedArgs(name: string, args: readonly CommandArg[]): Set<number> {
  const masked = new Set<number>();
  const add = (i: number): void => {
    if (i < args.length) masked.add(i);
  };
  switch (name) {
    case 'AUTH':
      // AUTH password | AUTH username password
      if (args.length <= 2) add(1);
      else for (let i = 2; i < args.length; i++) add(i);
      break;
    case 'HELLO':
      for (let i = 2; i < args.length; i++) {
        if (upper(args[i]) === 'AUTH') {
          add(i + 2);
          i += 2;
        }
      }
      break;
    case 'MIGRATE':
      for (let i = 6; i < args.length; i++) {
        const word = upper(args[i]);
        if (word === 'KEYS') break;
        if (word === 'AUTH') add(++i);
        else if (word === 'AUTH2') {
          add(i + 2);
          i += 2;
        }
      }
      break;
    case 'CONFIG SET':
      for (let i = 2; i + 1 < args.length; i += 2) if (SECRET_CONFIG.has(upper(args[i]).toLowerCase())) add(i + 1);
      break;
    case 'ACL SETUSER':
      // Password rules: >add <remove #hash !hash.
      for (let i = 3; i < args.length; i++) {
        const first = args[i].data[0];
        if (first === 0x3e || first === 0x3c || first === 0x23 || first === 0x21) add(i);
      }
      break;
  }
  return masked;
}

/** The command's name, key and secrets under the masking policy (default: the default policy). */
export function describeCommand(args: readonly CommandArg[], policy: MaskPolicy = DEFAULT_MASK_POLICY): CommandInfo {
  let name = upper(args[0]);
  if (CONTAINERS.has(name) && args.length > 1) name = `${name} ${upper(args[1])}`;
  const masked = policy.enabled ? maskedArgs(name, args) : new Set<number>();
  const info: CommandInfo = { name, masked, sensitive: masked.size > 0 ? ['password'] : [] };
  const data = dataSecrets(name, args, policy);
  if (data !== undefined) {
    for (const [i, kind] of data.masked) {
      masked.add(i);
      if (!info.sensitive.includes(kind)) info.sensitive.push(kind);
    }
    if (data.reply !== undefined) info.reply = data.reply;
  }
  const k = keyIndex(name, args);
  if (k !== undefined && k < args.length && !info.masked.has(k)) info.key = plainText(args[k].data);
  return info;
}

/** CONFIG GET replies list parameters and values: values of secret parameters are masked. */
export function isSecretConfigName(name: string): boolean {
  return SECRET_CONFIG.has(name.toLowerCase());
}
