/**
 * Reading the `Authorization` header: the token of `Authorization: Bearer <token>`, and why any
 * other header that is present gives none (a token without its scheme, `Basic …`), so the 401
 * says how to write the header rather than only that a token is needed. Never quotes the header:
 * what was sent may be the token itself.
 */

/** The token of an `Authorization: Bearer <token>` header (the scheme in any case); undefined for anything else. */
export function bearerToken(header: unknown): string | undefined {
  if (typeof header !== 'string') return undefined;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return m ? m[1] : undefined;
}

/** Schemes named back in the message: words that are never a secret. */
const KNOWN_SCHEMES = ['Basic', 'Digest', 'Negotiate', 'NTLM', 'Token', 'ApiKey', 'AWS4-HMAC-SHA256', 'DPoP'];

/**
 * What is wrong with an `Authorization` header that carries no bearer token, as "this one …";
 * undefined when the header is absent or is a bearer token.
 */
export function authorizationProblem(header: unknown): string | undefined {
  if (header === undefined || bearerToken(header) !== undefined) return undefined;
  const text = Array.isArray(header) ? header.join(', ') : String(header);
  const words = text.trim().split(/\s+/).filter((w) => w !== '');
  if (words.length === 0) return 'is empty';
  if (words[0].toLowerCase() === 'bearer') return words.length === 1 ? 'has no token after "Bearer"' : 'has more than one word after "Bearer"';
  if (words.length === 1) return 'has the token alone: write "Bearer " before it';
  const scheme = KNOWN_SCHEMES.find((s) => s.toLowerCase() === words[0].toLowerCase());
  return scheme !== undefined ? `uses the ${scheme} scheme, not Bearer` : 'does not start with "Bearer "';
}
