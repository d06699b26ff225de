/**
 * The shop apps' Redis: just enough RESP2 for the commands they use, and a connection that
 * falls back when Redis is unset or unreachable (the caller then serves from memory and says so)
 * and is retried at most every `retryMs`. Shared by `catalog` (products) and `auth` (sessions).
 */
import { Socket } from 'node:net';
import { log } from './_common.ts';

/**
 * Commands go out as arrays of bulk strings; replies are
 * parsed from a buffer and handed to waiting callers in order (Redis answers in order).
 */
export class RedisClient {
  private readonly socket: Socket;
  private buffer = Buffer.alloc(0);
  private readonly waiting: Array<{ resolve: (v: string | null) => void; reject: (e: Error) => void }> = [];
  closed = false;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      this.drain();
    });
    const fail = (err: Error) => {
      this.closed = true;
      for (const w of this.waiting.splice(0)) w.reject(err);
    };
    socket.on('error', fail);
    socket.on('close', () => fail(new Error('redis connection closed')));
  }

  static connect(host: string, port: number, timeoutMs: number): Promise<RedisClient> {
    return new Promise((resolve, reject) => {
      const socket = new Socket();
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`connect timeout after ${timeoutMs} ms`));
      }, timeoutMs);
      socket.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      socket.connect(port, host, () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        socket.setNoDelay(true);
        resolve(new RedisClient(socket));
      });
    });
  }

  command(...args: string[]): Promise<string | null> {
    if (this.closed) return Promise.reject(new Error('redis connection closed'));
    let out = `*${args.length}\r\n`;
    for (const a of args) out += `$${Buffer.byteLength(a)}\r\n${a}\r\n`;
    return new Promise((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      this.socket.write(out);
    });
  }

  close(): void {
    this.closed = true;
    this.socket.end();
  }

  /** Parses as many complete replies as the buffer holds. */
  private drain(): void {
    for (;;) {
      const eol = this.buffer.indexOf('\r\n');
      if (eol < 0) return;
      const type = String.fromCharCode(this.buffer[0]);
      const line = this.buffer.subarray(1, eol).toString('utf8');
      let value: string | null;
      let error: Error | undefined;
      let used = eol + 2;
      if (type === '+' || type === ':') value = line;
      else if (type === '-') {
        value = null;
        error = new Error(`redis: ${line}`);
      } else if (type === '$') {
        const len = Number(line);
        if (len < 0) value = null;
        else {
          if (this.buffer.length < used + len + 2) return;
          value = this.buffer.subarray(used, used + len).toString('utf8');
          used += len + 2;
        }
      } else {
        // The apps' commands never answer with anything else; treat it as a broken stream.
        this.socket.destroy(new Error(`redis: unexpected reply type ${JSON.stringify(type)}`));
        return;
      }
      this.buffer = this.buffer.subarray(used);
      const w = this.waiting.shift();
      if (error) w?.reject(error);
      else w?.resolve(value);
    }
  }
}

export interface RedisConnectionOptions {
  /** The app's name, for its log lines. */
  app: string;
  /** Undefined: Redis is not configured, the caller always uses memory. */
  addr: { host: string; port: number } | undefined;
  retryMs: number;
  timeoutMs: number;
  /** What the fallback is called in the log line (`the in-memory catalog`). */
  memory: string;
  /** Runs once per new connection before it is used (seeding); a failure counts as unreachable. */
  onConnect?: (client: RedisClient) => Promise<string | void>;
}

export interface RedisConnection {
  /** The client when Redis is configured and reachable; otherwise undefined (use memory). */
  client(): Promise<RedisClient | undefined>;
  /** Redis failed mid-use: say so once and use memory until the next retry. */
  failed(err: unknown): void;
  /** Say (once) that memory is used for a reason of the caller's (Redis not configured). */
  useMemory(reason: string): void;
  /** Where the data came from last: `redis`, `memory`, or undefined before the first use. */
  mode(): 'memory' | 'redis' | undefined;
  close(): void;
}

export function redisConnection(o: RedisConnectionOptions): RedisConnection {
  let redis: RedisClient | undefined;
  let lastAttempt = -Infinity;
  let mode: 'memory' | 'redis' | undefined;
  const useMemory = (reason: string): void => {
    if (mode !== 'memory') log(o.app, { level: 'warn', msg: `using ${o.memory}: ${reason}` });
    mode = 'memory';
  };
  return {
    async client() {
      if (!o.addr) return undefined;
      if (redis && !redis.closed) return redis;
      if (performance.now() - lastAttempt < o.retryMs) return undefined;
      lastAttempt = performance.now();
      const { host, port } = o.addr;
      try {
        const client = await RedisClient.connect(host, port, o.timeoutMs);
        const note = await o.onConnect?.(client);
        redis = client;
        mode = 'redis';
        log(o.app, { msg: `using Redis at ${host}:${port}${note ? ` (${note})` : ''}` });
        return client;
      } catch (err) {
        useMemory(`Redis at ${host}:${port} unreachable (${(err as Error).message}); retrying every ${o.retryMs} ms`);
        return undefined;
      }
    },
    failed(err) {
      useMemory(`Redis failed (${(err as Error).message})`);
    },
    useMemory,
    mode: () => mode,
    close() {
      redis?.close();
    },
  };
}
