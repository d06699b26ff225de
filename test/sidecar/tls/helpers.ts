/**
 * Real TLS handshakes on loopback, seen through a TCP relay that forwards bytes exactly and
 * feeds a copy to an app TLS capture session, as the sidecar does.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer as createTcpServer, connect as tcpConnect, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer as createTlsServer, connect as tlsConnect, type ConnectionOptions, type TlsOptions, type TLSSocket } from 'node:tls';
import type { CaptureEvent, CloseReason, Exchange } from '../../../sidecar/capture/session.ts';
import { createAppTlsSession } from '../../../sidecar/tls/session.ts';
import { childOutput } from '../../helpers/child-output.ts';

type Teardown = { teardown: (fn: () => unknown) => void };

export const now = (): bigint => process.hrtime.bigint();

function run(file: string, args: string[], input?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = execFile(file, args, { maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err && typeof err.code !== 'number') reject(err);
      else resolve({ code: err ? (err.code as number) : 0, stdout, stderr });
    });
    child.stdin?.end(input ?? '');
  });
}

export interface KeyPair {
  key: string;
  cert: string;
  keyFile: string;
  certFile: string;
}

/** A self-signed certificate made by `openssl req -x509`, RSA or ECDSA P-256. */
export async function selfSigned(t: Teardown, cn: string, kind: 'rsa' | 'ec' = 'rsa'): Promise<KeyPair> {
  const dir = await mkdtemp(join(tmpdir(), 'meshtap-tls-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const keyFile = join(dir, 'key.pem');
  const certFile = join(dir, 'cert.pem');
  const keyArgs = kind === 'rsa' ? ['-newkey', 'rsa:2048'] : ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1'];
  const r = await run('openssl', [
    'req', '-x509', ...keyArgs, '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '1',
    '-subj', `/CN=${cn}`, '-addext', `subjectAltName=DNS:${cn}`,
  ]);
  if (r.code !== 0) throw new Error(`openssl req failed: ${r.stderr}`);
  return { key: await readFile(keyFile, 'utf8'), cert: await readFile(certFile, 'utf8'), keyFile, certFile };
}

export interface Capture {
  /** The exchange the session emitted at close. */
  exchange: Promise<Exchange>;
  events: CaptureEvent[];
  /** Raw bytes each way, in the chunks the relay saw. */
  clientChunks: Buffer[];
  serverChunks: Buffer[];
  /** Every chunk in the order the relay saw it. */
  transcript: { from: 'client' | 'server'; chunk: Buffer }[];
}

export interface Relay {
  port: number;
  /** One capture per accepted connection, in order. */
  captures: Capture[];
}

/**
 * A TCP relay to `targetPort` that copies every chunk into its own app TLS session and
 * closes it once both sockets are gone.
 */
export async function startRelay(t: Teardown, targetPort: number): Promise<Relay> {
  const captures: Capture[] = [];
  const sockets = new Set<Socket>();
  const server = createTcpServer((down) => {
    const events: CaptureEvent[] = [];
    let resolve!: (e: Exchange) => void;
    const exchange = new Promise<Exchange>((r) => (resolve = r));
    const capture: Capture = { exchange, events, clientChunks: [], serverChunks: [], transcript: [] };
    captures.push(capture);
    const session = createAppTlsSession({ maxBodyBytes: 0, emit: resolve, event: (e) => events.push(e) });
    const up = tcpConnect(targetPort, '127.0.0.1');
    sockets.add(down);
    sockets.add(up);
    let reason: CloseReason = 'fin';
    let open = 2;
    const gone = (): void => {
      if (--open === 0) session.close(now(), reason);
    };
    down.on('data', (chunk: Buffer) => {
      capture.clientChunks.push(chunk);
      capture.transcript.push({ from: 'client', chunk });
      session.clientData(chunk, now());
      up.write(chunk);
    });
    up.on('data', (chunk: Buffer) => {
      capture.serverChunks.push(chunk);
      capture.transcript.push({ from: 'server', chunk });
      session.serverData(chunk, now());
      down.write(chunk);
    });
    down.on('end', () => {
      session.clientEnd(now());
      up.end();
    });
    up.on('end', () => {
      session.serverEnd(now());
      down.end();
    });
    for (const [s, other] of [[down, up], [up, down]] as const) {
      s.on('error', () => {
        reason = 'reset';
        other.destroy();
      });
      s.on('close', () => {
        sockets.delete(s);
        other.destroy();
        gone();
      });
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => {
    for (const s of sockets) s.destroy();
    return new Promise<void>((r) => server.close(() => r()));
  });
  return { port: (server.address() as AddressInfo).port, captures };
}

export interface TlsServerHandle {
  port: number;
  /** Errors the server saw on connections it refused (`tlsClientError`). */
  clientErrors: (Error & { code?: string })[];
}

/** A TLS server answering "hello" to each connection and then closing it. */
export async function startTlsServer(t: Teardown, options: TlsOptions): Promise<TlsServerHandle> {
  const clientErrors: (Error & { code?: string })[] = [];
  const server = createTlsServer(options, (socket) => {
    socket.on('error', () => {});
    socket.end('hello');
  });
  server.on('tlsClientError', (err) => clientErrors.push(err));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  return { port: (server.address() as AddressInfo).port, clientErrors };
}

export interface ClientOutcome {
  protocol: string | null;
  cipher?: { name: string; standardName: string; version: string };
  alpn: string | false | null;
  data: string;
  error?: Error & { code?: string };
}

/** Connects with Node's tls client, reads to the end, and reports what Node negotiated. */
export function nodeClient(port: number, options: ConnectionOptions): Promise<ClientOutcome> {
  return new Promise((resolve) => {
    let out: ClientOutcome | undefined;
    let data = '';
    const socket: TLSSocket = tlsConnect({ host: '127.0.0.1', port, ...options });
    socket.on('secureConnect', () => {
      out = { protocol: socket.getProtocol(), cipher: socket.getCipher(), alpn: socket.alpnProtocol ?? null, data: '' };
    });
    socket.on('data', (d: Buffer) => (data += d.toString()));
    socket.on('error', (error: Error & { code?: string }) => {
      resolve({ ...(out ?? { protocol: null, alpn: null, data }), data, error });
    });
    socket.on('close', () => resolve({ ...(out ?? { protocol: null, alpn: null, data }), data }));
  });
}

/** Runs `openssl s_client` through the relay and waits for it to exit. */
export function opensslClient(port: number, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  const output = childOutput(child);
  // No input: s_client sends nothing after the handshake and exits at EOF on stdin.
  child.stdin.end();
  return output;
}
