/**
 * The MCP server through the SDK's own clients, against a real collector with token auth:
 * `meshtap mcp` over stdio (a child process reading the collector's HTTP API) and the
 * collector's `/mcp` over Streamable HTTP (refused without a valid bearer token).
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import t, { type Test } from 'tap';
import { startCollector, type RunningCollector } from '../../../collector/collector.ts';
import { resolveCollectorOptions } from '../../../collector/config.ts';
import { createSinkLogger } from '../../../lib/log.ts';
import { callRecord, shopDataset } from '../helpers.ts';

const repo = fileURLToPath(new URL('../../..', import.meta.url));
const NODE = `${repo}node_modules/.bin/node`;
const TOKEN = 'mcp-test-token-0123456789abcdef';

async function tokenCollector(t: Test): Promise<RunningCollector> {
  const dir = mkdtempSync(join(tmpdir(), 'meshtap-mcp-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const tokenFile = join(dir, 'tokens');
  writeFileSync(tokenFile, `${TOKEN}\n`);
  const c = await startCollector(
    resolveCollectorOptions({ host: '127.0.0.1', grpcPort: 0, httpPort: 0, store: 'memory', auth: 'token', authTokenFile: tokenFile }),
    { log: createSinkLogger(() => {}) },
  );
  t.teardown(() => c.close({ force: true }));
  const data = shopDataset(60);
  // One call with a query string and a long body, and a trace of two hops.
  data.push(
    callRecord({
      id: 'q-1',
      at: 100,
      method: 'GET',
      path: '/api/orders?status=open&page=2',
      status: 503,
      elapsedMs: 12.5,
      src: { namespace: 'shop', workload: 'frontend', pod: 'frontend-0' },
      dst: { namespace: 'shop', workload: 'orders', pod: 'orders-0' },
      responseBody: JSON.stringify({ error: 'x'.repeat(10_000) }),
      traceId: 'trace-q',
      spanId: 'aaaa000000000001',
    }),
    callRecord({
      id: 'q-2',
      at: 101,
      method: 'GET',
      path: '/db/orders',
      status: 200,
      src: { namespace: 'shop', workload: 'orders' },
      dst: { ip: '10.1.2.3', port: 5432 },
      traceId: 'trace-q',
      parentSpanId: 'aaaa000000000001',
    }),
  );
  await c.store.add(data);
  return c;
}

type ToolCall = { isError?: boolean; content: { type: string; text?: string }[] };

function textOf(result: unknown): string {
  return (result as ToolCall).content.map((c) => c.text ?? '').join('');
}

function jsonOf(result: unknown): any {
  const r = result as ToolCall;
  if (r.isError === true) throw new Error(`tool error: ${textOf(r)}`);
  return JSON.parse(textOf(r));
}

async function stdioClient(t: Test, args: string[], env: Record<string, string> = {}): Promise<Client> {
  // No lab state and no kubeconfig of the machine's may supply credentials: only what the test gives.
  const home = mkdtempSync(join(tmpdir(), 'meshtap-mcp-home-'));
  t.teardown(() => rmSync(home, { recursive: true, force: true }));
  const transport = new StdioClientTransport({
    command: NODE,
    args: ['bin/meshtap.ts', 'mcp', ...args],
    cwd: repo,
    env: { PATH: process.env.PATH ?? '', HOME: home, KUBECONFIG: '/nonexistent', ...env },
    stderr: 'pipe',
  });
  const client = new Client({ name: 'meshtap-test', version: '1.0.0' });
  await client.connect(transport);
  t.teardown(() => client.close());
  return client;
}

async function httpClient(t: Test, port: number, token?: string): Promise<Client> {
  const transport = new StreamableHTTPClientTransport(new URL(`http://127.0.0.1:${port}/mcp`), {
    requestInit: token === undefined ? {} : { headers: { authorization: `Bearer ${token}` } },
  });
  const client = new Client({ name: 'meshtap-test', version: '1.0.0' });
  await client.connect(transport);
  t.teardown(() => client.close());
  return client;
}

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const EXPECTED_TOOLS = ['search_calls', 'get_call', 'service_map', 'get_trace', 'edge_summary', 'what_changed', 'coverage'];

/** What both transports must answer the same way. */
async function exercise(t: Test, client: Client): Promise<void> {
  const { tools } = await client.listTools();
  t.same(
    tools.map((x) => x.name),
    EXPECTED_TOOLS,
    'every tool, search_calls first',
  );
  const search = tools[0];
  t.same(search.inputSchema.required, ['filter'], 'search_calls needs only a filter');
  t.same(Object.keys(search.inputSchema.properties ?? {}).sort(), ['filter', 'limit']);
  t.match(search.description, /CEL/);
  for (const tool of tools) t.ok((tool.description ?? '').length > 80, `${tool.name} is described`);

  const found = jsonOf(await client.callTool({ name: 'search_calls', arguments: { filter: 'status_code >= 500 && dst.workload == "orders"' } }));
  t.equal(found.count, 1);
  t.same(found.calls[0], {
    id: 'q-1',
    time: '2025-11-24T16:00:00.100Z',
    protocol: 'http',
    seen_by: 'client',
    method: 'GET',
    path: '/api/orders?status=open&page=2',
    status: 503,
    latency_ms: 12.5,
    src: 'shop/frontend',
    src_pod: 'frontend-0',
    dst: 'shop/orders',
    dst_pod: 'orders-0',
    trace_id: 'trace-q',
  });

  const limited = jsonOf(await client.callTool({ name: 'search_calls', arguments: { filter: 'http', limit: 5 } }));
  t.equal(limited.calls.length, 5, 'limit');
  t.match(limited.note, /limit of 5 reached/);
  for (const c of limited.calls) t.match(c, { id: String, time: String, protocol: 'http', method: String, path: String, latency_ms: Number, src: String, dst: String });
  t.equal(jsonOf(await client.callTool({ name: 'search_calls', arguments: { filter: 'true' } })).calls.length, 20, 'default limit 20');

  const bad = (await client.callTool({ name: 'search_calls', arguments: { filter: 'http &&\n  dst.wrkload == "x"' } })) as ToolCall;
  t.equal(bad.isError, true, 'a bad filter is a tool error');
  t.match(textOf(bad), /COL_ERR_FILTER_UNDECLARED/);
  t.match(textOf(bad), /wrkload.*at line 2, column 7/s, "the collector's message");
  t.match(textOf(bad), /\n {4}dst\.wrkload == "x"\n {8}\^/, 'a caret under the position');
  const syntax = (await client.callTool({ name: 'search_calls', arguments: { filter: 'status_code >= ' } })) as ToolCall;
  t.equal(syntax.isError, true);
  t.match(textOf(syntax), /COL_ERR_FILTER_SYNTAX/);
  const tooMany = (await client.callTool({ name: 'search_calls', arguments: { filter: 'http', limit: 500 } })) as ToolCall;
  t.equal(tooMany.isError, true, 'limit above 200 refused');

  const full = jsonOf(await client.callTool({ name: 'get_call', arguments: { id: 'q-1', max_body_chars: 100 } }));
  t.equal(full.call.id, 'q-1');
  t.equal(full.call.response.body.text.length, 100, 'body cut to max_body_chars');
  t.equal(full.call.response.headers['content-type'], 'application/json');
  t.match(full.notes, [/response\.body: first 100 of 10012 characters/]);
  t.equal(full.summary.path, '/api/orders?status=open&page=2');
  const missing = (await client.callTool({ name: 'get_call', arguments: { id: 'nope' } })) as ToolCall;
  t.equal(missing.isError, true);
  t.match(textOf(missing), /no call with id "nope": an id is a record id \(<connection id>-o<n> .*\) or a call id \(<connection id>:<n>/);

  const trace = jsonOf(await client.callTool({ name: 'get_trace', arguments: { trace_id: 'trace-q' } }));
  t.equal(trace.span_count, 2);
  t.match(trace.spans, [
    { id: 'q-1', depth: 0, offset_ms: 0, status: 503, dst: 'shop/orders' },
    { id: 'q-2', depth: 1, parent_id: 'q-1', offset_ms: 1, dst: '10.1.2.3:5432' },
  ]);

  const map = jsonOf(await client.callTool({ name: 'service_map', arguments: { window: '1000d' } }));
  t.ok(map.edges.length > 0, 'service map edges');
  t.match(map.edges.find((e: { edge: string }) => e.edge === 'shop/frontend → shop/orders'), { requests: 1, errors: 1, error_rate: 1, p99_ms: 12.5 });
  const before = jsonOf(await client.callTool({ name: 'service_map', arguments: { window: '2000d', until: '1000d' } }));
  t.equal(before.edge_count, 0, 'a window that ends before the calls has no edges');
  const beforeCoverage = jsonOf(await client.callTool({ name: 'coverage', arguments: { window: '2000d', until: '1000d' } }));
  t.same(beforeCoverage.edges, [], 'coverage over the same window neither');
  const badUntil = (await client.callTool({ name: 'service_map', arguments: { window: '1h', until: '2h' } })) as ToolCall;
  t.equal(badUntil.isError, true);
  t.match(textOf(badUntil), /until must be after since/);
  const badWindow = (await client.callTool({ name: 'service_map', arguments: { window: 'yesterday' } })) as ToolCall;
  t.equal(badWindow.isError, true);
  t.match(textOf(badWindow), /COL_ERR_BAD_QUERY.*since must be/);

  const edges = jsonOf(await client.callTool({ name: 'edge_summary', arguments: { filter: 'dst.workload == "orders"' } }));
  t.same(edges.edges, [{ edge: 'shop/frontend → shop/orders', calls: 1, errors: 1, error_rate: 1, http_4xx: 0, p50_ms: 12.5, p99_ms: 12.5, top_errors: [['503', 1]] }]);
  const badEdges = (await client.callTool({ name: 'edge_summary', arguments: { filter: 'dst.wrkload == "x"' } })) as ToolCall;
  t.equal(badEdges.isError, true);
  t.match(textOf(badEdges), /COL_ERR_FILTER_UNDECLARED/);
}

void t.test('meshtap mcp over stdio: the SDK client lists and calls the tools', async (t) => {
  const c = await tokenCollector(t);
  const client = await stdioClient(t, ['--collector', `http://127.0.0.1:${c.httpPort}`, '--token', TOKEN]);
  t.equal(client.getServerVersion()?.name, 'meshtap');
  await exercise(t, client);
});

void t.test('meshtap mcp over stdio: URL and token from the environment; a wrong token is a clear tool error', async (t) => {
  const c = await tokenCollector(t);
  const client = await stdioClient(t, [], { MESHTAP_COLLECTOR_URL: `http://127.0.0.1:${c.httpPort}`, MESHTAP_COLLECTOR_TOKEN: TOKEN });
  const found = jsonOf(await client.callTool({ name: 'search_calls', arguments: { filter: 'path.contains("status=open")' } }));
  t.same(
    found.calls.map((x: { id: string }) => x.id),
    ['q-1'],
  );

  const wrong = await stdioClient(t, ['--collector', `http://127.0.0.1:${c.httpPort}`, '--token', 'not-the-token-aaaaaaaaaaaa']);
  const refused = (await wrong.callTool({ name: 'search_calls', arguments: { filter: 'true' } })) as ToolCall;
  t.equal(refused.isError, true);
  t.match(textOf(refused), /refused the request \(401 \(COL_ERR_UNAUTHENTICATED\)\).*--token or MESHTAP_COLLECTOR_TOKEN/s);

  const port = await closedPort();
  const nowhere = await stdioClient(t, ['--collector', `http://127.0.0.1:${port}`, '--token', TOKEN]);
  const unreachable = (await nowhere.callTool({ name: 'search_calls', arguments: { filter: 'true' } })) as ToolCall;
  t.equal(unreachable.isError, true);
  t.match(textOf(unreachable), new RegExp(`cannot reach the collector at http://127\\.0\\.0\\.1:${port}: ECONNREFUSED`));
});

void t.test('/mcp over Streamable HTTP: the same tools behind the bearer token', async (t) => {
  const c = await tokenCollector(t);
  const client = await httpClient(t, c.httpPort, TOKEN);
  await exercise(t, client);
});

void t.test('/mcp refuses callers without a valid bearer token', async (t) => {
  const c = await tokenCollector(t);
  const url = `http://127.0.0.1:${c.httpPort}/mcp`;
  const initialize = JSON.stringify({
    jsonrpc: '2.0',
    id: 1,
    method: 'initialize',
    params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
  });
  const headers = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
  for (const [what, extra] of [
    ['no token', {}],
    ['a wrong token', { authorization: 'Bearer not-the-token-aaaaaaaaaaaa' }],
    ['not a bearer token', { authorization: 'Basic Zm9vOmJhcg==' }],
  ] as const) {
    const res = await fetch(url, { method: 'POST', headers: { ...headers, ...extra }, body: initialize });
    t.equal(res.status, 401, what);
    t.equal(res.headers.get('www-authenticate'), 'Bearer realm="meshtap"');
    t.equal(((await res.json()) as { error: { code: string } }).error.code, 'COL_ERR_UNAUTHENTICATED');
  }
  const ok = await fetch(url, { method: 'POST', headers: { ...headers, authorization: `Bearer ${TOKEN}` }, body: initialize });
  t.equal(ok.status, 200, 'the token opens it');
  t.match(await ok.json(), { jsonrpc: '2.0', id: 1, result: { serverInfo: { name: 'meshtap' } } });
  const get = await fetch(url, { headers: { accept: 'text/event-stream', authorization: `Bearer ${TOKEN}` } });
  t.equal(get.status, 405, 'stateless: no server-initiated stream');
  await get.body?.cancel();

  // The SDK client is refused too.
  await t.rejects(httpClient(t, c.httpPort), /401|Unauthorized|authentication required/i, 'the SDK client without a token');
  await t.rejects(httpClient(t, c.httpPort, 'not-the-token-aaaaaaaaaaaa'), /401|Unauthorized|not valid/i, 'the SDK client with a wrong token');
});

void t.test('meshtap mcp over stdio: a line that is not JSON-RPC is named on stderr, and the session goes on', async (t) => {
  const port = await closedPort();
  const child = spawn(NODE, ['bin/meshtap.ts', 'mcp', '--collector', `http://127.0.0.1:${port}`, '--token', 'mcp-token-0123456789abcdef'], { cwd: repo, stdio: ['pipe', 'pipe', 'pipe'] });
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  child.stdin.write('this is not json\n');
  child.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '1' } } })}\n`);
  const deadline = Date.now() + 20_000;
  while (!out.includes('"id":1') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  child.stdin.end();
  const [code] = (await once(child, 'exit')) as [number | null];
  t.equal(code, 0);
  t.match(err, /meshtap mcp: ignored a line on stdin that is not a JSON-RPC message/);
  const answer = JSON.parse(out.split('\n')[0]) as { id?: number; result?: { serverInfo?: { name: string } } };
  t.equal(answer.id, 1, 'the next message is answered');
  t.equal(answer.result?.serverInfo?.name, 'meshtap');
});

void t.test('meshtap mcp over stdio: calls written before stdin closes are still answered, then it exits 0', async (t) => {
  // A collector that takes 700 ms to answer: the call is in flight when stdin ends.
  let asked = 0;
  const slow = createHttpServer((req, res) => {
    asked++;
    setTimeout(() => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ calls: [] }));
    }, 700);
  });
  await new Promise<void>((resolve) => slow.listen(0, '127.0.0.1', resolve));
  t.teardown(() => slow.close());
  const port = (slow.address() as AddressInfo).port;
  const child = spawn(NODE, ['bin/meshtap.ts', 'mcp', '--collector', `http://127.0.0.1:${port}`, '--token', 'mcp-token-0123456789abcdef'], { cwd: repo, stdio: ['pipe', 'pipe', 'pipe'] });
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const lines = [
    { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '1' } } },
    { jsonrpc: '2.0', method: 'notifications/initialized' },
    { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'search_calls', arguments: { filter: 'http', limit: 5 } } },
  ];
  child.stdin.end(lines.map((l) => `${JSON.stringify(l)}\n`).join(''));
  const [code] = (await once(child, 'exit')) as [number | null];
  t.equal(code, 0);
  t.equal(asked, 1, 'the collector was asked');
  const answers = out.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { id?: number; result?: unknown; error?: unknown });
  t.same(answers.map((a) => a.id), [1, 2], 'both requests answered before the exit');
  t.match(answers[1], { result: { isError: undefined } }, `the tool call has its result: ${JSON.stringify(answers[1]).slice(0, 300)}`);
});
