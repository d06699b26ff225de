/**
 * An MCP server holding meshtap's tools, bound to one `ToolContext` (one collector API with one
 * caller's credentials). `meshtap mcp` makes one for its stdio session; `/mcp` one per request.
 */
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { MCP_TOOLS, type ToolContext } from './tools.ts';

export const MCP_SERVER_NAME = 'meshtap';

const INSTRUCTIONS = `meshtap captures every API call between Kubernetes workloads (HTTP, gRPC, Redis, SQL, TCP) with paired requests and responses, payloads and both ends' identity.
Typical on-call flow: service_map (topology, error rates) or edge_summary (errors per edge) → search_calls with a CEL filter for examples → get_call for headers and bodies → get_trace for the whole flow; what_changed compares a baseline window with the incident window.`;

/** What `serverInfo.version` says. */
export const MCP_SERVER_VERSION = '0.1.0';

export function createMcpServer(ctx: ToolContext, version = MCP_SERVER_VERSION): McpServer {
  const server = new McpServer({ name: MCP_SERVER_NAME, version }, { instructions: INSTRUCTIONS, capabilities: { tools: {} } });
  for (const tool of MCP_TOOLS) {
    server.registerTool(
      tool.name,
      { title: tool.title, description: tool.description, inputSchema: tool.inputSchema, annotations: { readOnlyHint: true, openWorldHint: false } },
      (args: unknown) => tool.call(args, ctx),
    );
  }
  return server;
}
