/**
 * What the browser tests share: a real collector on loopback fed through the sidecar's own
 * shipper over gRPC, the dashboard served next to its API, and Debian's Chromium driven by
 * playwright-core.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { waitFor as sharedWaitFor } from '../helpers/wait-for.ts';
import { resolveCollectorOptions } from '../../collector/config.ts';
import { startCollector, type RunningCollector } from '../../collector/collector.ts';
import type { CallRecord } from '../../record/record.ts';
import { createShipper, type Shipper } from '../../sidecar/shipper/index.ts';

export const CHROMIUM = '/usr/bin/chromium';
export const SCREENSHOT_DIR = join(import.meta.dirname, '..', '..', 'out', 'screenshots');

export const waitFor = (what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> => sharedWaitFor(what, cond, timeoutMs, 20);

export interface DashboardBackend {
  collector: RunningCollector;
  /** Where the page lives (ends with '/'). */
  baseUrl: string;
  /** The collector's own HTTP API. */
  apiUrl: string;
  /** Ships records as a sidecar would and waits until the collector has stored them. */
  feed(records: readonly CallRecord[]): Promise<void>;
  close(): Promise<void>;
}

/**
 * A collector (which serves the dashboard at `/`), a shipper pointed at it, and the page's URL.
 * `token`: the API takes this bearer token (and the session its login link opens) instead of
 * answering everyone.
 */
export async function startDashboardBackend(options: { token?: string } = {}): Promise<DashboardBackend> {
  let auth: { auth: 'none' } | { auth: 'token'; authTokenFile: string } = { auth: 'none' };
  if (options.token !== undefined) {
    const authTokenFile = join(mkdtempSync(join(tmpdir(), 'meshtap-dashboard-')), 'tokens');
    writeFileSync(authTokenFile, `${options.token}\n`);
    auth = { auth: 'token', authTokenFile };
  }
  const config = resolveCollectorOptions({ ...auth, host: '127.0.0.1', grpcPort: 0, httpPort: 0, maxRecords: 100_000 });
  const collector = await startCollector(config);
  const apiUrl = `http://127.0.0.1:${collector.httpPort}/`;
  const shipper: Shipper = createShipper({
    collectorAddr: `127.0.0.1:${collector.grpcPort}`,
    batchLingerMs: 5,
    batchMaxRecords: 500,
    maxQueueBytes: 256 * 1024 * 1024,
    batchMaxBytes: 4 * 1024 * 1024,
    maxInFlightBatches: 8,
    sidecar: { pod: 'dashboard-test', namespace: 'shop' },
  });

  const page = await fetch(apiUrl).then(async (r) => (r.ok ? r.text() : ''), () => '');
  if (!page.includes('type="importmap"')) throw new Error('the collector does not serve the dashboard at /');
  const baseUrl = apiUrl;

  return {
    collector,
    baseUrl,
    apiUrl,
    async feed(records) {
      const before = await collector.store.count();
      for (const r of records) {
        if (!shipper.offer(r)) throw new Error(`shipper refused record ${r.id}`);
      }
      await waitFor(`${records.length} records stored`, async () => (await collector.store.count()) >= before + records.length, 60_000);
    },
    async close() {
      await shipper.close({ drainMs: 1000 }).catch(() => {});
      // Open event streams would hold the HTTP server's close; the force drops them.
      await collector.close({ force: true });
    },
  };
}

export interface BrowserSession {
  browser: Browser;
  page: Page;
  /** Every URL the page requested. */
  requests: string[];
  /** Uncaught page errors and console errors. */
  errors: string[];
  screenshot(name: string): Promise<void>;
  close(): Promise<void>;
}

/** Headless Debian Chromium; playwright gives every launch a fresh temporary profile. */
export async function openBrowser(options: { width?: number; height?: number; colorScheme?: 'light' | 'dark'; timezoneId?: string } = {}): Promise<BrowserSession> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  const context = await browser.newContext({
    viewport: { width: options.width ?? 1400, height: options.height ?? 860 },
    colorScheme: options.colorScheme ?? 'light',
    ...(options.timezoneId !== undefined ? { timezoneId: options.timezoneId } : {}),
  });
  const page = await context.newPage();
  const requests: string[] = [];
  const errors: string[] = [];
  page.on('request', (r) => requests.push(r.url()));
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console: ${m.text()}`);
  });
  return {
    browser,
    page,
    requests,
    errors,
    async screenshot(name) {
      await page.screenshot({ path: join(SCREENSHOT_DIR, `${name}.png`) });
    },
    close: () => browser.close(),
  };
}

/**
 * Opens a login link and waits until the page has traded its token for the session cookie. The
 * page takes the token out of the address (`#/calls`) before that trade is answered, so a reload
 * right after the address changed could cancel it and leave the page signed out.
 */
export async function openLoginLink(page: Page, url: string): Promise<void> {
  const traded = page.waitForResponse((r) => new URL(r.url()).pathname.endsWith('/api/session') && r.request().method() === 'POST');
  await page.goto(url);
  await traded;
}
