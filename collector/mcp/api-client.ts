/**
 * What the MCP tools need from the collector: GET a route of its HTTP API and read the JSON
 * answer. Two implementations: over HTTP with a bearer token (`meshtap mcp`, stdio), and
 * in-process through the collector's own app with the MCP caller's headers (`/mcp`), so the
 * caller's token decides what it may see in both.
 */

/** A JSON answer (any status), or `status: 0` when the collector could not be reached. */
export interface ApiAnswer {
  status: number;
  body: unknown;
  /** Set when there is no HTTP answer (`status: 0`) or its body is not JSON. */
  problem?: string;
}

export type ApiQuery = Record<string, string | number | undefined>;

export interface CollectorApi {
  /** `path` is an API route such as `/api/calls`; undefined query values are left out. */
  get(path: string, query?: ApiQuery): Promise<ApiAnswer>;
}

/** `path?query` with the defined values URL-encoded. */
export function routeWithQuery(path: string, query: ApiQuery = {}): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) if (value !== undefined) params.set(key, String(value));
  const text = params.toString();
  return text === '' ? path : `${path}?${text}`;
}

/** The body of an answer as JSON, or a problem naming what came instead. */
export function parseAnswer(status: number, text: string): ApiAnswer {
  try {
    return { status, body: JSON.parse(text) as unknown };
  } catch {
    return { status, body: undefined, problem: `the collector answered ${status} with a body that is not JSON: ${JSON.stringify(text.slice(0, 200))}` };
  }
}

function causeText(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (err as Error).message;
}

export interface HttpApiOptions {
  /** The collector's base URL (`http://127.0.0.1:8080`, possibly with a path prefix). */
  baseUrl: URL;
  /** The `Authorization` header value, or undefined for none. */
  authorization: string | undefined;
  /** Per request; default 30 s. */
  timeoutMs?: number;
  /** Says why the collector could not be reached (default: its address and the cause). */
  unreachable?: (cause: string) => string;
  fetch?: typeof fetch;
}

/** The collector's HTTP API over the network (what `meshtap tap` talks to). */
export function createHttpApiClient(options: HttpApiOptions): CollectorApi {
  const doFetch = options.fetch ?? fetch;
  const timeoutMs = options.timeoutMs ?? 30_000;
  const base = options.baseUrl.href.endsWith('/') ? options.baseUrl.href : `${options.baseUrl.href}/`;
  return {
    async get(path, query) {
      const url = new URL(routeWithQuery(path, query).replace(/^\//, ''), base);
      let res: Response;
      let text: string;
      try {
        res = await doFetch(url, {
          headers: { accept: 'application/json', ...(options.authorization !== undefined ? { authorization: options.authorization } : {}) },
          signal: AbortSignal.timeout(timeoutMs),
        });
        text = await res.text();
      } catch (err) {
        const cause = causeText(err);
        return { status: 0, body: undefined, problem: options.unreachable?.(cause) ?? `cannot reach the collector at ${options.baseUrl.origin}: ${cause}` };
      }
      return parseAnswer(res.status, text);
    },
  };
}
