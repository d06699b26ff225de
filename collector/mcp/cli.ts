/** `meshtap mcp`: meshtap's MCP tools over stdio, for a local AI agent, reading a collector's HTTP API. */
import type { Readable, Writable } from 'node:stream';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import type { CommandIO } from '../../lib/cli.ts';
import { parseCommandArgs } from '../../lib/cli.ts';
import { DEFAULT_COLLECTOR_URL, resolveCollectorTarget, unreachableText } from '../tap/collector-target.ts';
import { createHttpApiClient } from './api-client.ts';
import { createMcpServer } from './server.ts';
import { MCP_TOOLS } from './tools.ts';

const USAGE = `usage: meshtap mcp [options]

Serves meshtap's MCP tools (${MCP_TOOLS.map((t) => t.name).join(', ')}) over stdio to an AI
agent, reading the collector's HTTP API. stdout carries the protocol; messages go to stderr.

options:
  --collector URL   the collector's HTTP API (default: the running lab's, else ${DEFAULT_COLLECTOR_URL})   env MESHTAP_COLLECTOR_URL
  --token TOKEN     bearer token for the API (default: the lab's token for the lab's collector,
                    else the current kubeconfig user's credentials)   env MESHTAP_COLLECTOR_TOKEN
  -h, --help        show this help

An MCP client starts it, e.g. {"mcpServers": {"meshtap": {"command": "npx", "args": ["meshtap", "mcp"]}}}.
A collector serves the same tools itself at /mcp (Streamable HTTP, same bearer token).

Exit: 0 when the client closes stdin (or on SIGINT/SIGTERM), 2 for a usage error.
`;

const OPTIONS = {
  help: { type: 'boolean', short: 'h' },
  collector: { type: 'string' },
  token: { type: 'string' },
} as const;

/** How long requests sent before stdin closed may take to be answered (the API client's own timeout). */
const ANSWER_AFTER_EOF_MS = 30_000;

export async function run(argv: string[], io: CommandIO): Promise<number> {
  const { values } = parseCommandArgs(argv, OPTIONS);
  if (values.help) {
    io.stdout.write(USAGE);
    return 0;
  }
  const target = await resolveCollectorTarget({ collector: values.collector, token: values.token, env: io.env });
  const { base, authorization } = target;

  const api = createHttpApiClient({ baseUrl: base, authorization, unreachable: (cause) => unreachableText(target, cause) });
  const server = createMcpServer({ api, now: () => BigInt(Date.now()) * 1_000_000n });
  const transport = new StdioServerTransport(io.stdin as Readable, io.stdout as Writable);

  let finish: () => void = () => {};
  const done = new Promise<void>((resolve) => {
    finish = resolve;
  });
  const onSignal = (): void => finish();
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // The client ends the session by closing our stdin; requests it sent before are still answered
  // (a client that writes its calls and closes stdin at once gets its answers), for as long as
  // a request may take.
  const pending = new Set<string | number>();
  let ending = false;
  let endTimer: NodeJS.Timeout | undefined;
  const onEnd = (): void => {
    if (ending) return;
    ending = true;
    if (pending.size === 0) return finish();
    endTimer = setTimeout(finish, ANSWER_AFTER_EOF_MS);
    endTimer.unref();
  };
  io.stdin.on('end', onEnd);
  io.stdin.on('close', onEnd);
  transport.onclose = onSignal;
  // A line that is not a JSON-RPC message is skipped by the transport: say so, for whoever writes the client.
  transport.onerror = (err) => io.stderr.write(`meshtap mcp: ignored a line on stdin that is not a JSON-RPC message: ${err.message}\n`);
  try {
    await server.connect(transport);
    // Which requests are still unanswered: the server's own handlers stay as they are.
    const receive = transport.onmessage;
    transport.onmessage = (message) => {
      if ('method' in message && 'id' in message) pending.add(message.id);
      receive?.(message);
    };
    const send = transport.send.bind(transport);
    transport.send = async (message) => {
      await send(message);
      if (!('method' in message) && 'id' in message) {
        if (message.id !== undefined) pending.delete(message.id);
        if (ending && pending.size === 0) finish();
      }
    };
    io.stderr.write(`meshtap mcp: serving ${MCP_TOOLS.length} tools over stdio for the collector at ${base.href}${authorization === undefined ? ' (no credentials found: give --token if it asks for them)' : ''}\n`);
    await done;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    io.stdin.off('end', onEnd);
    io.stdin.off('close', onEnd);
    clearTimeout(endTimer);
    await server.close().catch(() => {});
  }
  return 0;
}
