/**
 * Shop app `legacy-client`: an old batch job in the unmeshed `legacy` namespace. Every
 * INTERVAL_MS it calls the next of TARGET_URLS (round-robin) and logs one line. It has no
 * sidecar, so only the callee's sidecar sees these calls (plaintext, no client identity).
 *
 * Env: TARGET_URLS (http://frontend.shop/products,http://catalog.shop/products/1),
 * INTERVAL_MS (3000), REQUEST_TIMEOUT_MS (5000).
 */
import { ConfigError, envInt, envString, loadConfig, log } from './_common.ts';

const config = loadConfig('legacy-client', () => {
  const raw = envString('TARGET_URLS', 'http://frontend.shop/products,http://catalog.shop/products/1');
  const targets = raw.split(',').map((s) => s.trim()).filter(Boolean);
  for (const t of targets) {
    if (!/^https?:\/\/[^/\s]+/.test(t) || !URL.canParse(t)) throw new ConfigError(`TARGET_URLS=${JSON.stringify(raw)}: ${JSON.stringify(t)} is not an http:// URL`);
  }
  if (targets.length === 0) throw new ConfigError('TARGET_URLS: expected at least one URL');
  return {
    targets,
    intervalMs: envInt('INTERVAL_MS', 3000, { min: 10, max: 3_600_000 }),
    timeoutMs: envInt('REQUEST_TIMEOUT_MS', 5000, { min: 1, max: 120_000 }),
  };
});

const stop = new AbortController();
process.once('SIGTERM', () => stop.abort());
process.once('SIGINT', () => stop.abort());

log('legacy-client', { msg: 'started', targets: config.targets, intervalMs: config.intervalMs });
for (let n = 0; !stop.signal.aborted; n++) {
  const url = config.targets[n % config.targets.length];
  const started = performance.now();
  try {
    // No traceparent, no keep-alive tricks: an old client, one call at a time.
    const res = await fetch(url, { headers: { 'user-agent': 'legacy-batch/0.9' }, signal: AbortSignal.any([stop.signal, AbortSignal.timeout(config.timeoutMs)]) });
    const body = await res.text();
    log('legacy-client', { url, status: res.status, ms: Math.round(performance.now() - started), bytes: body.length });
  } catch (err) {
    if (stop.signal.aborted) break;
    const e = err as Error & { cause?: Error };
    log('legacy-client', { url, error: e.cause?.message ?? e.message });
  }
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, config.intervalMs);
    stop.signal.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    }, { once: true });
  });
}
log('legacy-client', { msg: 'stopping' });
process.exit(0);
