/**
 * Bearer tokens from a file, one per line (blank lines and `#` comments ignored), reloaded when
 * the file changes so tokens rotate without a restart. Tokens are kept only as SHA-256
 * digests and compared with `timingSafeEqual`, so a comparison takes the same time whatever
 * the guess shares with a real token.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { MeshtapError } from '../../lib/errors.ts';
import { COL_ERR_AUTH_CONFIG } from '../errors.ts';

/** How often, at most, the file's modification time is looked at. */
const RECHECK_MS = 1000;

export interface TokenSet {
  /** The token file (for messages; never the tokens). */
  readonly path: string;
  /** Whether the token is one of the file's; never throws. */
  matches(token: string): boolean;
  /** How many tokens the file holds now. */
  size(): number;
}

function digest(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

/** Shorter tokens are taken but warned about: a guessable one would open every call's payload. */
export const MIN_TOKEN_LENGTH = 16;

export interface ParsedTokenFile {
  tokens: string[];
  /** Lines (from 1) whose token is shorter than `MIN_TOKEN_LENGTH` characters. */
  weakLines: number[];
}

/**
 * The tokens of a token file's text. A line that cannot be a bearer token is an error naming
 * its line (never its text): one with spaces or control characters inside (an `Authorization:
 * Bearer` header carries one word, so it could never match). A token shorter than
 * `MIN_TOKEN_LENGTH` characters is taken (the file is the operator's: one per line) and its
 * line listed, for a warning.
 */
export function parseTokenFile(text: string): ParsedTokenFile {
  const tokens: string[] = [];
  const weakLines: number[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    if (/[\s\x00-\x1f\x7f]/.test(line)) throw new Error(`line ${i + 1} holds spaces or control characters: a token is one word`);
    if (line.length < MIN_TOKEN_LENGTH) weakLines.push(i + 1);
    tokens.push(line);
  });
  return { tokens, weakLines };
}

/** What a warning about short tokens says (never the tokens). */
export function weakTokensMessage(path: string, lines: readonly number[]): string {
  return `the token file ${path} has tokens shorter than ${MIN_TOKEN_LENGTH} characters (line${lines.length > 1 ? 's' : ''} ${lines.join(', ')}): a short token can be guessed, and any token opens every captured payload; use long random ones (openssl rand -base64 32)`;
}

function readTokens(path: string, onWeak?: (lines: number[]) => void): Buffer[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new MeshtapError(COL_ERR_AUTH_CONFIG, `cannot read the token file ${path}: ${(err as Error).message}`, { cause: err });
  }
  let parsed: ParsedTokenFile;
  try {
    parsed = parseTokenFile(text);
  } catch (err) {
    throw new MeshtapError(COL_ERR_AUTH_CONFIG, `the token file ${path} cannot be used: ${(err as Error).message}`, { cause: err });
  }
  if (parsed.tokens.length === 0) throw new MeshtapError(COL_ERR_AUTH_CONFIG, `the token file ${path} holds no token (one per line)`);
  if (parsed.weakLines.length > 0) onWeak?.(parsed.weakLines);
  return parsed.tokens.map(digest);
}

export interface TokenSetOptions {
  now?: () => number;
  /** Called when a reload fails; the previous tokens stay in force. */
  onReloadError?: (err: unknown) => void;
  onReload?: (count: number) => void;
  /** Called at load and at each reload when the file has short tokens (their lines). */
  onWeakTokens?: (lines: number[]) => void;
}

/** Loads the file now (a missing or empty file is a start-up error) and re-reads it when it changes. */
export function loadTokenSet(path: string, options: TokenSetOptions = {}): TokenSet {
  const now = options.now ?? Date.now;
  let digests = readTokens(path, options.onWeakTokens);
  let mtimeMs = statSync(path).mtimeMs;
  let checkedAt = now();

  function refresh(): void {
    if (now() - checkedAt < RECHECK_MS) return;
    checkedAt = now();
    try {
      const m = statSync(path).mtimeMs;
      if (m === mtimeMs) return;
      digests = readTokens(path, options.onWeakTokens);
      mtimeMs = m;
      options.onReload?.(digests.length);
    } catch (err) {
      options.onReloadError?.(err);
    }
  }

  return Object.freeze({
    path,
    matches(token: string): boolean {
      refresh();
      if (token === '') return false;
      const d = digest(token);
      let found = false;
      // Every entry is compared, so the time does not tell which line matched.
      for (const known of digests) found = timingSafeEqual(d, known) || found;
      return found;
    },
    size: () => digests.length,
  });
}

export function generateToken(): string {
  return randomBytes(32).toString('base64url');
}

/**
 * The token a collector started without auth settings uses: read from `path` if it exists,
 * else generated and written there with mode 0600 (its directory 0700), so the collector is
 * never open by default and the token survives restarts.
 */
export function ensureTokenFile(path: string): { created: boolean } {
  try {
    if (statSync(path).isFile()) return { created: false };
  } catch {
    // absent: create it below
  }
  try {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    writeFileSync(path, `${generateToken()}\n`, { mode: 0o600, flag: 'wx' });
    chmodSync(path, 0o600);
  } catch (err) {
    throw new MeshtapError(COL_ERR_AUTH_CONFIG, `cannot create the token file ${path}: ${(err as Error).message}`, { cause: err });
  }
  return { created: true };
}
