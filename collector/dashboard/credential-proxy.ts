/**
 * The local half of `meshtap dashboard`: an HTTP server on 127.0.0.1 that forwards every
 * request (the page, the API, the live stream) to the collector and adds the user's own
 * credentials on the way, the way `linkerd viz dashboard` fronts its API. The browser never
 * holds a token; the collector checks the user's Kubernetes identity on each request.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import httpProxy from 'http-proxy';
import { hostAllowed } from '../auth/host-check.ts';

export interface CredentialProxyOptions {
  /** Where the collector answers (the local end of the port-forward). */
  target: string;
  /** The Authorization header value for each request (refreshed per request: tokens expire). */
  authorization: () => Promise<string | undefined>;
  host?: string;
  port?: number;
  onError?: (err: Error) => void;
}

export interface CredentialProxy {
  readonly url: string;
  readonly server: Server;
  close(): Promise<void>;
}

export async function startCredentialProxy(options: CredentialProxyOptions): Promise<CredentialProxy> {
  const host = options.host ?? '127.0.0.1';
  const proxy = httpProxy.createProxyServer({ target: options.target, changeOrigin: true, ws: false, xfwd: false });
  proxy.on('error', (err, _req, res) => {
    options.onError?.(err);
    const out = res as ServerResponse;
    if (typeof out.writeHead === 'function' && !out.headersSent) {
      out.writeHead(502, { 'content-type': 'application/json' });
      out.end(JSON.stringify({ error: { code: 'COL_ERR_INTERNAL', message: `the collector did not answer through the port-forward: ${err.message}` } }));
    } else {
      out.destroy?.();
    }
  });
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    // Only this machine's browser: a page elsewhere cannot rebind a name onto our port.
    if (!hostAllowed(host, req.headers.host)) {
      res.writeHead(403, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { code: 'COL_ERR_HOST', message: 'open the dashboard as 127.0.0.1 or localhost' } }));
      return;
    }
    options.authorization().then(
      (authorization) => {
        // A browser-sent Authorization or Cookie never reaches the collector: the user's credentials do.
        delete req.headers.authorization;
        delete req.headers.cookie;
        proxy.web(req, res, authorization ? { headers: { authorization } } : {});
      },
      (err: unknown) => {
        options.onError?.(err as Error);
        res.writeHead(502, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { code: 'COL_ERR_AUTH_UNAVAILABLE', message: `cannot get credentials from the kubeconfig: ${(err as Error).message}` } }));
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}/`,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        proxy.close();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
