/**
 * A request path with its identifiers replaced by `{id}`, so that `/orders/1234/items` and
 * `/orders/5678/items` share one route. Routes go where cardinality matters (Loki structured
 * metadata, span names), so the result is also bounded in length.
 *
 * A segment is an identifier when it is all digits, a UUID, a long hex string (an object id,
 * a digest), or a long token mixing letters and digits (ULIDs, opaque base64url keys). Short
 * words with digits (`v1`, `oauth2`, `s3`) stay.
 */
export const ROUTE_ID = '{id}';
export const MAX_ROUTE_LENGTH = 256;

const NUMERIC = /^\d+$/;
const UUID = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;
const LONG_HEX = /^(?=[0-9a-f]*\d)[0-9a-f]{12,}$/i;
const SHORT_HEX_WITH_LETTERS_AND_DIGITS = /^(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{8,}$/i;
const OPAQUE_TOKEN = /^(?=[\w-]*\d)(?=[\w-]*[A-Za-z])[\w-]{20,}$/;

function isIdentifier(segment: string): boolean {
  return (
    NUMERIC.test(segment) ||
    UUID.test(segment) ||
    LONG_HEX.test(segment) ||
    SHORT_HEX_WITH_LETTERS_AND_DIGITS.test(segment) ||
    OPAQUE_TOKEN.test(segment)
  );
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/**
 * `/orders/1234/items?x=1` → `/orders/{id}/items`. gRPC paths (`/pkg.Service/Method`) pass
 * unchanged. Returns undefined for an absent path, `/` for an empty one.
 */
export function templateRoute(path: string | undefined): string | undefined {
  if (path === undefined) return undefined;
  let p = path;
  const cut = p.search(/[?#]/);
  if (cut >= 0) p = p.slice(0, cut);
  // An absolute-form request target (proxies): keep only the path.
  const scheme = /^[a-z][a-z0-9+.-]*:\/\/[^/]*/i.exec(p);
  if (scheme) p = p.slice(scheme[0].length);
  if (p === '') return '/';
  const segments = p.split('/').map((segment) => (isIdentifier(decodeSegment(segment)) ? ROUTE_ID : segment));
  let route = segments.join('/');
  // Control characters would make the value awkward in every sink.
  route = route.replace(/[\u0000-\u001f\u007f]/g, '_');
  if (route.length > MAX_ROUTE_LENGTH) route = route.slice(0, MAX_ROUTE_LENGTH - 3) + '...';
  return route;
}
