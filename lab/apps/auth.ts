/**
 * Shop app `auth`: logs users in and checks their tokens.
 *
 *   POST /login   { user, password } → { token, tokenType, expiresIn }  (an HS256 JWT; 401 if wrong)
 *   GET  /verify  authorization: Bearer <jwt> → { user, exp }           (401 if missing/invalid/ended)
 *   POST /logout  authorization: Bearer <jwt> → 204                     (ends the session)
 *
 * Every token is a session: `SET session:<jti> <user> EX <ttl>` in Redis at login, `GET` at each
 * verify (a session that ended — logged out or expired — is refused even with a valid JWT),
 * `DEL` at logout; so the mesh shows the sessions in Redis too. Without REDIS_ADDR, or while
 * Redis is unreachable, sessions are kept in memory and the log says so.
 *
 * Env: PORT (8080), JWT_SECRET (a lab-only default), TOKEN_TTL_S (900),
 * USERS (`name:password,…`; default alice:wonderland,bob:builder,carol:secret123),
 * REDIS_ADDR (unset), REDIS_RETRY_MS (5000), REDIS_TIMEOUT_MS (500).
 */
import { randomUUID } from 'node:crypto';
import { SignJWT, jwtVerify, type JWTPayload } from 'jose';
import { HttpError, bearer, envHostPort, envInt, envString, isRecord, loadConfig, serve, ConfigError } from './_common.ts';
import { redisConnection } from './_redis.ts';

export const ISSUER = 'meshtap-lab-auth';
export const AUDIENCE = 'meshtap-shop';

const config = loadConfig('auth', () => {
  const users = new Map<string, string>();
  const raw = envString('USERS', 'alice:wonderland,bob:builder,carol:secret123');
  for (const pair of raw.split(',')) {
    const i = pair.indexOf(':');
    if (i <= 0 || i === pair.length - 1) throw new ConfigError(`USERS=${JSON.stringify(raw)}: expected name:password pairs separated by commas`);
    users.set(pair.slice(0, i).trim(), pair.slice(i + 1));
  }
  const secret = envString('JWT_SECRET', 'meshtap-lab-only-jwt-secret-do-not-use-elsewhere');
  if (secret.length < 16) throw new ConfigError('JWT_SECRET: expected at least 16 characters');
  return {
    port: envInt('PORT', 8080, { min: 0, max: 65535 }),
    ttlSeconds: envInt('TOKEN_TTL_S', 900, { min: 1, max: 86400 }),
    users,
    key: new TextEncoder().encode(secret),
    redis: envHostPort('REDIS_ADDR'),
    retryMs: envInt('REDIS_RETRY_MS', 5000, { min: 0, max: 600_000 }),
    timeoutMs: envInt('REDIS_TIMEOUT_MS', 500, { min: 10, max: 60_000 }),
  };
});

const redis = redisConnection({ app: 'auth', addr: config.redis, retryMs: config.retryMs, timeoutMs: config.timeoutMs, memory: 'in-memory sessions' });
/** Sessions while Redis is not there: session id → user and expiry (ms). */
const memorySessions = new Map<string, { user: string; expires: number }>();

async function startSession(id: string, user: string): Promise<void> {
  const client = await redis.client();
  if (client) {
    try {
      await client.command('SET', `session:${id}`, user, 'EX', String(config.ttlSeconds));
      return;
    } catch (err) {
      redis.failed(err);
    }
  }
  memorySessions.set(id, { user, expires: Date.now() + config.ttlSeconds * 1000 });
}

async function sessionUser(id: string): Promise<string | undefined> {
  const client = await redis.client();
  if (client) {
    try {
      return (await client.command('GET', `session:${id}`)) ?? undefined;
    } catch (err) {
      redis.failed(err);
    }
  }
  const s = memorySessions.get(id);
  if (s === undefined || s.expires <= Date.now()) return undefined;
  return s.user;
}

async function endSession(id: string): Promise<void> {
  memorySessions.delete(id);
  const client = await redis.client();
  if (client) await client.command('DEL', `session:${id}`).catch((err: unknown) => redis.failed(err));
}

/** The token's claims when it is valid and its session still open; 401 otherwise. */
async function openSession(headers: Record<string, string | string[] | undefined>): Promise<JWTPayload> {
  const token = bearer(headers);
  if (!token) throw new HttpError(401, 'missing bearer token');
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(token, config.key, { issuer: ISSUER, audience: AUDIENCE, algorithms: ['HS256'] }));
  } catch (err) {
    throw new HttpError(401, 'invalid token', { reason: (err as { code?: string }).code ?? 'unknown' });
  }
  if (typeof payload.jti !== 'string' || (await sessionUser(payload.jti)) !== payload.sub) {
    throw new HttpError(401, 'session ended', { reason: 'session' });
  }
  return payload;
}

if (config.redis) await redis.client();
else redis.useMemory('REDIS_ADDR is not set');

await serve({
  app: 'auth',
  port: config.port,
  routes: [
    {
      method: 'POST',
      path: '/login',
      handler: async ({ body }) => {
        if (!isRecord(body) || typeof body.user !== 'string' || typeof body.password !== 'string') {
          throw new HttpError(400, 'expected { user, password }');
        }
        if (config.users.get(body.user) !== body.password) throw new HttpError(401, 'invalid credentials');
        const id = randomUUID();
        const token = await new SignJWT({ scope: 'shop:checkout' })
          .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
          .setSubject(body.user)
          .setIssuer(ISSUER)
          .setAudience(AUDIENCE)
          .setIssuedAt()
          .setExpirationTime(`${config.ttlSeconds}s`)
          .setJti(id)
          .sign(config.key);
        await startSession(id, body.user);
        return { body: { token, tokenType: 'Bearer', expiresIn: config.ttlSeconds } };
      },
    },
    {
      method: 'GET',
      path: '/verify',
      handler: async ({ headers }) => {
        const payload = await openSession(headers);
        return { body: { user: payload.sub, scope: payload.scope, exp: payload.exp } };
      },
    },
    {
      method: 'POST',
      path: '/logout',
      handler: async ({ headers }) => {
        const payload = await openSession(headers);
        await endSession(payload.jti as string);
        return { status: 204 };
      },
    },
  ],
  onShutdown: () => redis.close(),
});
