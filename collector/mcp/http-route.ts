/**
 * `/mcp` on the collector's HTTP API: MCP over Streamable HTTP, stateless (a fresh server and
 * transport per POST, JSON answers, no sessions). The route sits behind the API's
 * authentication hook; its tools read the API in-process (`app.inject`) with the caller's own
 * Authorization header, so what an agent sees is exactly what its token may see.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { parseAnswer, routeWithQuery, type CollectorApi } from './api-client.ts';
import type { createMcpServer } from './server.ts';

export const MCP_PATH = '/mcp';

const nowNs = (): bigint => BigInt(Date.now()) * 1_000_000n;

/** The SDK takes about half a second to load: a collector pays for it on its first MCP request, not at start. */
let sdk: Promise<{ createMcpServer: typeof createMcpServer; Transport: typeof StreamableHTTPServerTransport }> | undefined;
function loadSdk(): NonNullable<typeof sdk> {
  sdk ??= Promise.all([import('./server.ts'), import('@modelcontextprotocol/sdk/server/streamableHttp.js')]).then(([server, http]) => ({
    createMcpServer: server.createMcpServer,
    Transport: http.StreamableHTTPServerTransport,
  }));
  return sdk;
}

/** The collector's API through its own router, as the caller (their Authorization and Host headers). */
export function createInjectApiClient(app: FastifyInstance, caller: { authorization?: string; host?: string }): CollectorApi {
  const headers: Record<string, string> = {};
  if (caller.authorization !== undefined) headers.authorization = caller.authorization;
  if (caller.host !== undefined) headers.host = caller.host;
  return {
    async get(path, query) {
      const res = await app.inject({ method: 'GET', url: routeWithQuery(path, query), headers });
      return parseAnswer(res.statusCode, res.body);
    },
  };
}

function methodNotAllowed(reply: FastifyReply): FastifyReply {
  // Stateless: no server-initiated stream (GET) and no session to end (DELETE).
  return reply
    .code(405)
    .header('allow', 'POST')
    .type('application/json')
    .send({ jsonrpc: '2.0', error: { code: -32000, message: 'Method not allowed: this MCP endpoint is stateless, POST JSON-RPC messages to it' }, id: null });
}

export function registerMcpRoute(app: FastifyInstance, options: { now?: () => bigint; version?: string } = {}): void {
  const now = options.now ?? nowNs;
  app.post(MCP_PATH, async (request, reply) => {
    const { createMcpServer, Transport } = await loadSdk();
    const api = createInjectApiClient(app, { authorization: request.headers.authorization, host: request.headers.host });
    const server = createMcpServer({ api, now }, options.version);
    const transport = new Transport({ sessionIdGenerator: undefined, enableJsonResponse: true });
    reply.hijack();
    reply.raw.on('close', () => {
      void transport.close();
      void server.close();
    });
    await server.connect(transport);
    await transport.handleRequest(request.raw, reply.raw, request.body);
    return reply;
  });
  app.get(MCP_PATH, async (_request, reply) => methodNotAllowed(reply));
  app.delete(MCP_PATH, async (_request, reply) => methodNotAllowed(reply));
}
