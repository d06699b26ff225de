/**
 * Browser sessions for the dashboard. A browser cannot add an Authorization header to an
 * EventSource or a link, so the page trades its bearer token once (POST /api/session) for an
 * HttpOnly, SameSite=Strict cookie holding a random session id. The token stays in the
 * collector's memory with the session, and every request is authenticated again with it, so a
 * revoked token or permission ends the session's access too.
 */
import { randomBytes } from 'node:crypto';

export const SESSION_COOKIE = 'meshtap_session';

export interface SessionStore {
  create(token: string): { id: string; maxAgeSeconds: number };
  token(id: string | undefined): string | undefined;
  remove(id: string | undefined): void;
}

export function createSessionStore(options: { ttlMs?: number; max?: number; now?: () => number } = {}): SessionStore {
  const ttlMs = options.ttlMs ?? 12 * 3600_000;
  const max = options.max ?? 10_000;
  const now = options.now ?? Date.now;
  const sessions = new Map<string, { token: string; expires: number }>();
  return {
    create(token) {
      const id = randomBytes(32).toString('base64url');
      sessions.set(id, { token, expires: now() + ttlMs });
      if (sessions.size > max) sessions.delete(sessions.keys().next().value as string);
      return { id, maxAgeSeconds: Math.floor(ttlMs / 1000) };
    },
    token(id) {
      if (id === undefined) return undefined;
      const s = sessions.get(id);
      if (!s) return undefined;
      if (s.expires <= now()) {
        sessions.delete(id);
        return undefined;
      }
      return s.token;
    },
    remove(id) {
      if (id !== undefined) sessions.delete(id);
    },
  };
}

/** The value of one cookie in a Cookie header. */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq !== -1 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

export function sessionCookie(id: string, maxAgeSeconds: number): string {
  return `${SESSION_COOKIE}=${id}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${maxAgeSeconds}`;
}

export function clearedSessionCookie(): string {
  return `${SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0`;
}
