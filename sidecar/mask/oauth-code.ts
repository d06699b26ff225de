/**
 * The OAuth 2.0 authorization code: a `code` parameter is a credential (exchanged once for
 * tokens) only where it is an authorization response or a token request; elsewhere `code` is an
 * ordinary word (status codes, country codes, discount codes) and stays readable. It is taken
 * for an authorization code when the same query (or form) also has a parameter only the OAuth
 * flow sends (`state`, `session_state`, `redirect_uri`, `code_verifier`, `grant_type`), or when
 * the path ends with a segment where codes are delivered or redeemed (`…/callback`,
 * `…/oauth2callback`, `…/authorize`, `…/token`). Pure and cheap: a lookup per parameter name,
 * and the path's last segment only when a `code` was seen.
 */

/** The parameter that holds the code. */
export const OAUTH_CODE_PARAM = 'code';

/** Parameters that say a query or form belongs to the OAuth flow (RFC 6749, OIDC, RFC 7636). */
const OAUTH_CONTEXT_PARAMS: ReadonlySet<string> = new Set(['state', 'session_state', 'redirect_uri', 'code_verifier', 'grant_type']);

export function isOAuthContextParam(name: string): boolean {
  return OAUTH_CONTEXT_PARAMS.has(name);
}

/** Whether the path (without its query) ends where authorization codes arrive or are redeemed. */
export function isOAuthCodePath(path: string): boolean {
  let end = path.length;
  while (end > 0 && path.charCodeAt(end - 1) === 47) end--;
  const start = path.lastIndexOf('/', end - 1) + 1;
  if (end - start > 64) return false;
  const segment = path.slice(start, end).toLowerCase();
  return segment === 'authorize' || segment === 'token' || segment.endsWith('callback');
}
