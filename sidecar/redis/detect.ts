/**
 * Is this connection Redis? Decided from the client's first bytes, without a port number:
 * Redis clients open with a RESP array of bulk strings (`*2\r\n$3\r\nGET...`) or, for people and
 * health checks, an inline line (`PING\r\n`). An inline line that ends in ` HTTP/1.x` is an HTTP
 * request line whose method happens to be a Redis command name (`GET / HTTP/1.1`): HTTP wins.
 */
export type RedisDetection = 'redis' | 'need-more' | undefined;

/** Commands an inline first line may start with (those a client would send first, and then some). */
const INLINE_COMMANDS = new Set(
  `ACL APPEND AUTH BGSAVE BITCOUNT BLPOP BRPOP CLIENT CLUSTER COMMAND CONFIG DBSIZE DECR DECRBY
  DEL DISCARD DUMP ECHO EVAL EVALSHA EXEC EXISTS EXPIRE FLUSHALL FLUSHDB GET GETRANGE GETSET
  HDEL HELLO HGET HGETALL HINCRBY HKEYS HLEN HMGET HMSET HSET INCR INCRBY INFO KEYS LASTSAVE LINDEX
  LLEN LPOP LPUSH LRANGE LREM MEMORY MGET MONITOR MSET MULTI OBJECT PERSIST PEXPIRE PING PSUBSCRIBE
  PTTL PUBLISH PUBSUB QUIT RANDOMKEY READONLY RENAME RESET ROLE RPOP RPUSH SADD SAVE SCAN SCARD
  SCRIPT SELECT SET SETEX SETNX SISMEMBER SLOWLOG SMEMBERS SREM SSUBSCRIBE STRLEN SUBSCRIBE TIME
  TTL TYPE UNLINK UNWATCH WAIT WATCH XADD XLEN XRANGE XREAD ZADD ZCARD ZRANGE ZREM ZSCORE`.split(/\s+/),
);
const LONGEST_COMMAND = Math.max(...[...INLINE_COMMANDS].map((c) => c.length));
/** Redis refuses inline lines longer than this; so do we. */
const MAX_INLINE = 64 * 1024;
const HTTP_TAIL = / HTTP\/1\.[01]$/;

/** `*<digits>\r\n$<digits>\r\n`, matched as far as the bytes go. */
function detectResp(b: Uint8Array): RedisDetection {
  let i = 1;
  for (const marker of [0x24, -1]) {
    const digitsStart = i;
    while (i < b.length && b[i] >= 0x30 && b[i] <= 0x39) {
      i++;
      if (i - digitsStart > 10) return undefined;
    }
    if (i >= b.length) return 'need-more';
    if (i === digitsStart || b[i] !== 0x0d) return undefined;
    i++;
    if (i >= b.length) return 'need-more';
    if (b[i] !== 0x0a) return undefined;
    i++;
    if (marker === -1) return 'redis';
    if (i >= b.length) return 'need-more';
    if (b[i] !== marker) return undefined;
    i++;
  }
  return undefined;
}

function detectInline(b: Uint8Array): RedisDetection {
  const lf = b.indexOf(0x0a);
  const end = lf === -1 ? Math.min(b.length, MAX_INLINE) : lf;
  let line = Buffer.from(b.buffer, b.byteOffset, end).toString('latin1');
  if (lf === -1) {
    const sp = line.indexOf(' ');
    if (sp !== -1) {
      // The first word is complete; wait for the line end to rule out an HTTP request line.
      if (!INLINE_COMMANDS.has(line.slice(0, sp).toUpperCase())) return undefined;
      return b.length >= MAX_INLINE ? undefined : 'need-more';
    }
    const cr = line.endsWith('\r');
    const word = (cr ? line.slice(0, -1) : line).toUpperCase();
    if (cr) return INLINE_COMMANDS.has(word) ? 'need-more' : undefined;
    // Still typing the first word: could it become a known command?
    if (word.length > LONGEST_COMMAND) return undefined;
    for (const c of INLINE_COMMANDS) if (c.startsWith(word)) return 'need-more';
    return undefined;
  }
  if (line.endsWith('\r')) line = line.slice(0, -1);
  const sp = line.indexOf(' ');
  const word = (sp === -1 ? line : line.slice(0, sp)).toUpperCase();
  if (!INLINE_COMMANDS.has(word)) return undefined;
  if (HTTP_TAIL.test(line)) return undefined;
  return 'redis';
}

export function detectRedis(firstBytes: Uint8Array): RedisDetection {
  if (firstBytes.length === 0) return 'need-more';
  if (firstBytes[0] === 0x2a) return detectResp(firstBytes);
  return detectInline(firstBytes);
}
