/**
 * Shop app `auth`: logs users in and checks their tokens.
 *
 *   POST /login   { user, password } → { token, tokenType, expiresIn }  (an HS256 JWT; 401 if wrong)
 *   GET  /verify  authorization: Bearer <jwt> → { user, exp }           (401 if missing/invalid)
 *
 * Env: PORT (8080), JWT_SECRET (a lab-only default), TOKEN_TTL_S (900),
 * USERS (`name:password,…`; default alice:wonderland,bob:builder,carol:secret123).
 */
import { SignJWT, jwtVerify } from 'jose';
import { HttpError, bearer, envInt, envString, isRecord, loadConfig, serve, ConfigError } from './_common.ts';

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
  };
});

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
        const token = await new SignJWT({ scope: 'shop:checkout' })
          .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
          .setSubject(body.user)
          .setIssuer(ISSUER)
          .setAudience(AUDIENCE)
          .setIssuedAt()
          .setExpirationTime(`${config.ttlSeconds}s`)
          .sign(config.key);
        return { body: { token, tokenType: 'Bearer', expiresIn: config.ttlSeconds } };
      },
    },
    {
      method: 'GET',
      path: '/verify',
      handler: async ({ headers }) => {
        const token = bearer(headers);
        if (!token) throw new HttpError(401, 'missing bearer token');
        try {
          const { payload } = await jwtVerify(token, config.key, { issuer: ISSUER, audience: AUDIENCE, algorithms: ['HS256'] });
          return { body: { user: payload.sub, scope: payload.scope, exp: payload.exp } };
        } catch (err) {
          throw new HttpError(401, 'invalid token', { reason: (err as { code?: string }).code ?? 'unknown' });
        }
      },
    },
  ],
});
