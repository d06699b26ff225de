// Worst offenders: the clients (workloads) and edges that retry, time out and get rate-limited
// most over a window, from `GET /api/offenders`. A row opens the stream filtered to its calls.
import { useEffect, useState } from 'preact/hooks';
import { html } from './html.js';
import { getOffenders } from './api.js';
import { formatPercent } from './format.js';
import { formatRoute } from './router.js';

const WINDOWS = [
  ['5m', '5m'],
  ['15m', '15m'],
  ['1h', '1h'],
  ['24h', '24h'],
];
const RANKINGS = [
  ['score', 'worst of all'],
  ['retry', 'retry rate'],
  ['timeout', 'timeout rate'],
  ['rate_limited', '429 rate'],
];
const REFRESH_MS = 5000;

/**
 * @typedef {{ name: string, calls: number, retries: number, retry_rate: number, timeouts: number, timeout_rate: number,
 *   rate_limited: number, rate_limited_rate: number, retry_after_ignored: number }} OffenderRow
 */

/** The stream filter for a client (`ns/workload`) or an edge (`ns/a → ns/b`) row, when its names say enough. */
function rowFilter(/** @type {string} */ name) {
  const [src, dst] = name.split(' → ');
  const end = (/** @type {string} */ side, /** @type {string} */ n) => {
    const m = /^([^/:]+)\/([^/:]+)$/.exec(n);
    return m ? `${side}.namespace == ${JSON.stringify(m[1])} && ${side}.workload == ${JSON.stringify(m[2])}` : undefined;
  };
  const parts = [end('src', src), dst === undefined ? undefined : end('dst', dst)];
  if (parts[0] === undefined) return undefined;
  return `(retry || client_timeout || error == "timeout" || status_code == 429) && ${parts.filter(Boolean).join(' && ')}`;
}

export function OffendersView() {
  const [since, setSince] = useState('15m');
  const [by, setBy] = useState('score');
  const [data, setData] = useState(/** @type {{ calls: number, clients: OffenderRow[], edges: OffenderRow[], truncated?: boolean } | undefined} */ (undefined));
  const [error, setError] = useState(/** @type {string | undefined} */ (undefined));

  useEffect(() => {
    const controller = new AbortController();
    const load = async () => {
      try {
        const r = await getOffenders({ since, by, limit: 20 }, controller.signal);
        if (r.ok) {
          setData(r.value);
          setError(undefined);
        } else {
          setError(r.error.message);
          // Not signed in: asking again every few seconds only repeats the 401 until a login link is opened.
          if (r.status === 401) clearInterval(timer);
        }
      } catch {
        // Aborted on leaving the view.
      }
    };
    const timer = setInterval(load, REFRESH_MS);
    void load();
    return () => {
      clearInterval(timer);
      controller.abort();
    };
  }, [since, by]);

  return html`
    <section class="offenders-view" aria-label="Worst offenders">
      <div class="toolbar">
        <h2 class="view-title">Worst offenders</h2>
        <div class="segmented" role="group" aria-label="Time window">
          ${WINDOWS.map(([label, value]) => html`<button type="button" aria-pressed=${value === since ? 'true' : 'false'} onClick=${() => setSince(value)}>${label}</button>`)}
        </div>
        <div class="segmented" role="group" aria-label="Rank by">
          ${RANKINGS.map(([value, label]) => html`<button type="button" data-by=${value} aria-pressed=${value === by ? 'true' : 'false'} onClick=${() => setBy(value)}>${label}</button>`)}
        </div>
        ${data ? html`<span class="muted">${data.calls.toLocaleString()} HTTP and gRPC calls${data.truncated ? ' (the newest of the window)' : ''}</span>` : null}
      </div>
      ${error ? html`<p class="notice error">${error}</p>` : null}
      ${data
        ? html`<${OffenderTable} title="Clients" kind="clients" rows=${data.clients} />
            <${OffenderTable} title="Edges" kind="edges" rows=${data.edges} />`
        : !error
          ? html`<p class="muted loading">Loading…</p>`
          : null}
    </section>
  `;
}

/** @param {{ title: string, kind: string, rows: OffenderRow[] }} props */
function OffenderTable({ title, kind, rows }) {
  return html`
    <section class="card offenders" aria-label=${title} data-kind=${kind}>
      <h3>${title}</h3>
      ${rows.length === 0
        ? html`<p class="muted">No retries, timeouts or 429s in this window.</p>`
        : html`<table class="offenders-table">
            <thead>
              <tr>
                <th scope="col">${kind === 'clients' ? 'client' : 'client → callee'}</th>
                <th scope="col" class="num">calls</th>
                <th scope="col" class="num">retries</th>
                <th scope="col" class="num">timeouts</th>
                <th scope="col" class="num">429s</th>
                <th scope="col" class="num" title="retries that did not wait as long as Retry-After asked">ignored Retry-After</th>
              </tr>
            </thead>
            <tbody>
              ${rows.map((r) => {
                const filter = rowFilter(r.name);
                return html`<tr data-name=${r.name}>
                  <th scope="row" class="mono">${filter ? html`<a href=${formatRoute({ view: 'calls', filter })}>${r.name}</a>` : r.name}</th>
                  <td class="num mono">${r.calls}</td>
                  <td class="num mono" data-col="retry">${r.retries} · ${formatPercent(r.retry_rate)}</td>
                  <td class="num mono" data-col="timeout">${r.timeouts} · ${formatPercent(r.timeout_rate)}</td>
                  <td class="num mono" data-col="rate_limited">${r.rate_limited} · ${formatPercent(r.rate_limited_rate)}</td>
                  <td class="num mono" data-col="ignored">${r.retry_after_ignored}</td>
                </tr>`;
              })}
            </tbody>
          </table>`}
    </section>
  `;
}
