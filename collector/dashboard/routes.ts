/**
 * Serves the dashboard: one HTML page, its ES modules and stylesheet, and the few browser
 * modules it needs from node_modules (Preact, its hooks, htm), resolved through an import map.
 * No build step: `npm ci` is enough.
 *
 * Every file is read once at registration into an allow-list keyed by URL path, so a request
 * can only ever name one of those entries: no path from a request reaches the filesystem.
 */
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, extname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { MeshtapError } from '../../lib/errors.ts';
import { COL_ERR_DASHBOARD_ASSET } from './errors.ts';

export interface DashboardOptions {
  /** URL prefix the dashboard lives under (default ""): `/ui` serves it at `/ui/`. */
  prefix?: string;
  /** Directory with index.html, app.css and app/ (default: the one next to this file). */
  staticDir?: string;
}

interface Asset {
  body: Buffer;
  type: string;
  etag: string;
  cacheControl: string;
}

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.json': 'application/json; charset=utf-8',
};

/** Revalidated on every load (cheap with the ETag), so an upgraded collector serves new code at once. */
const REVALIDATE = 'no-cache';
/** Vendor URLs carry a hash of their content, so a URL never changes meaning. */
const IMMUTABLE = 'public, max-age=31536000, immutable';

/** The browser modules taken from node_modules: import specifier → served file name. */
const VENDOR_MODULES = [
  { specifier: 'preact', file: 'preact' },
  { specifier: 'preact/hooks', file: 'preact-hooks' },
  { specifier: 'htm', file: 'htm' },
] as const;

const here = dirname(fileURLToPath(import.meta.url));

function asset(body: Buffer, type: string, cacheControl: string): Asset {
  const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;
  return { body, type, etag, cacheControl };
}

function readOrThrow(path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new MeshtapError(COL_ERR_DASHBOARD_ASSET, `dashboard file ${path} cannot be read: ${(err as Error).message}`, { cause: err });
  }
}

function listFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...listFiles(path));
    else if (entry.isFile() && CONTENT_TYPES[extname(entry.name)] && !entry.name.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

/** The URL path → asset table, and the CSP that allows exactly the inline import map. */
export function buildDashboardAssets(staticDir: string = join(here, 'static')): { assets: Map<string, Asset>; csp: string } {
  const assets = new Map<string, Asset>();
  const imports: Record<string, string> = {};
  for (const mod of VENDOR_MODULES) {
    const body = readOrThrow(fileURLToPath(import.meta.resolve(mod.specifier)));
    const url = `vendor/${mod.file}.${createHash('sha256').update(body).digest('hex').slice(0, 12)}.mjs`;
    imports[mod.specifier] = `./${url}`;
    assets.set(`/${url}`, asset(body, CONTENT_TYPES['.mjs'], IMMUTABLE));
  }
  const importMap = JSON.stringify({ imports });
  const importMapHash = createHash('sha256').update(importMap).digest('base64');

  for (const path of listFiles(staticDir)) {
    const urlPath = `/${relative(staticDir, path).split(sep).join('/')}`;
    if (urlPath === '/index.html') continue;
    assets.set(urlPath, asset(readOrThrow(path), CONTENT_TYPES[extname(path)], REVALIDATE));
  }
  const template = readOrThrow(join(staticDir, 'index.html')).toString('utf8');
  if (!template.includes('<!--importmap-->')) {
    throw new MeshtapError(COL_ERR_DASHBOARD_ASSET, 'dashboard index.html has no <!--importmap--> placeholder');
  }
  const html = template.replace('<!--importmap-->', `<script type="importmap">${importMap}</script>`);
  assets.set('/', asset(Buffer.from(html, 'utf8'), CONTENT_TYPES['.html'], REVALIDATE));

  const csp = [
    "default-src 'none'",
    `script-src 'self' 'sha256-${importMapHash}'`,
    "style-src 'self' 'unsafe-inline'",
    "connect-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
  return { assets, csp };
}

/** Registers `GET /` (the page), `/app.css`, `/favicon.svg`, `/app/*` and `/vendor/*` on `app`. */
export function registerDashboard(app: FastifyInstance, options: DashboardOptions = {}): void {
  const prefix = (options.prefix ?? '').replace(/\/+$/, '');
  if (prefix !== '' && !/^\/[A-Za-z0-9._~\-/]*$/.test(prefix)) {
    throw new MeshtapError(COL_ERR_DASHBOARD_ASSET, `dashboard prefix must be a URL path like "/ui", got ${JSON.stringify(options.prefix)}`);
  }
  const { assets, csp } = buildDashboardAssets(options.staticDir);

  function send(request: FastifyRequest, reply: FastifyReply, found: Asset): FastifyReply {
    reply
      .header('cache-control', found.cacheControl)
      .header('etag', found.etag)
      .header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'no-referrer');
    if (found.type.startsWith('text/html')) reply.header('content-security-policy', csp).header('x-frame-options', 'DENY');
    const match = request.headers['if-none-match'];
    if (typeof match === 'string' && match.split(',').some((tag) => tag.trim() === found.etag)) {
      return reply.code(304).send();
    }
    return reply.type(found.type).send(found.body);
  }

  function lookup(request: FastifyRequest, reply: FastifyReply, key: string): FastifyReply {
    const found = assets.get(key);
    if (!found) {
      reply.callNotFound();
      return reply;
    }
    return send(request, reply, found);
  }

  // The page resolves every URL relative to itself, so it must be served with a trailing slash.
  if (prefix !== '') app.get(prefix, (_request, reply) => reply.redirect(`${prefix}/`, 301));
  app.get(`${prefix}/`, (request, reply) => lookup(request, reply, '/'));
  app.get(`${prefix}/index.html`, (request, reply) => lookup(request, reply, '/'));
  app.get(`${prefix}/app.css`, (request, reply) => lookup(request, reply, '/app.css'));
  app.get(`${prefix}/favicon.svg`, (request, reply) => lookup(request, reply, '/favicon.svg'));
  app.get(`${prefix}/app/*`, (request, reply) => lookup(request, reply, `/app/${(request.params as { '*': string })['*']}`));
  app.get(`${prefix}/vendor/*`, (request, reply) => lookup(request, reply, `/vendor/${(request.params as { '*': string })['*']}`));
}
