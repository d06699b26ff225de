// What meshtap can see: per workload, a few plain sentences on what is not observed and why,
// and a table of its inbound and outbound calls by how much of them was seen; then what the
// collector itself refused. Refreshed like the map.
import { useEffect, useState } from 'preact/hooks';
import { html } from './html.js';
import { getJson } from './api.js';
import { TIME_WINDOWS as WINDOWS } from './time-windows.js';

const REFRESH_MS = 10_000;

/**
 * @typedef {{ calls: number, parsed: Record<string, number>, opaque: number, app_tls: number, unmeshed_peer: number, unobserved_here: number, plaintext_meshed?: number, capture_overflow: number, truncated_bodies: number }} Counts
 * @typedef {{ id: string, namespace: string, workload: string, kind: string, inbound: Counts, outbound: Counts, excluded: { known: boolean }, summary: string[] }} WorkloadCoverage
 * @typedef {{ workloads: WorkloadCoverage[], collector: { records_rejected: Record<string, number>, batches_rejected: Record<string, number>, streams_refused: number } }} CoverageJson
 */

/** @param {Record<string, number>} parsed */
const parsedText = (parsed) =>
  Object.entries(parsed)
    .sort((a, b) => b[1] - a[1])
    .map(([p, n]) => `${n} ${p}`)
    .join(', ') || '0';

/** @param {Record<string, number>} counts */
const nonZero = (counts) => Object.entries(counts ?? {}).filter(([, n]) => n > 0);

export function CoverageView() {
  const [windowSeconds, setWindowSeconds] = useState(15 * 60);
  const [data, setData] = useState(/** @type {CoverageJson | undefined} */ (undefined));
  const [error, setError] = useState(/** @type {string | undefined} */ (undefined));

  useEffect(() => {
    const controller = new AbortController();
    const load = async () => {
      const since = String(BigInt(Date.now() - windowSeconds * 1000) * 1_000_000n);
      try {
        const r = await getJson(`api/coverage?${new URLSearchParams({ since })}`, controller.signal);
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
  }, [windowSeconds]);

  const refused = data ? [...nonZero(data.collector.records_rejected).map(([r, n]) => `${n} records (${r})`), ...nonZero(data.collector.batches_rejected).map(([r, n]) => `${n} batches (${r})`), ...(data.collector.streams_refused > 0 ? [`${data.collector.streams_refused} ingest streams (at their maximum)`] : [])] : [];
  return html`
    <section class="coverage-view" aria-label="Coverage">
      <div class="toolbar">
        <h2 class="view-title">What meshtap can see</h2>
        <div class="segmented" role="group" aria-label="Time window">
          ${WINDOWS.map(
            ([label, s]) => html`<button type="button" aria-pressed=${s === windowSeconds ? 'true' : 'false'} onClick=${() => setWindowSeconds(/** @type {number} */ (s))}>${label}</button>`,
          )}
        </div>
      </div>
      ${error ? html`<p class="notice error">${error}</p>` : null}
      ${data
        ? html`
            <p class="coverage-collector">
              ${refused.length === 0 ? 'The collector refused nothing since it started.' : `The collector refused since it started: ${refused.join(', ')}.`}
            </p>
            ${data.workloads.length === 0 ? html`<p class="empty">No calls in this window.</p>` : data.workloads.map((w) => html`<${WorkloadCard} w=${w} />`)}
          `
        : error
          ? null
          : html`<p class="muted loading">Loading…</p>`}
    </section>
  `;
}

/** @param {{ w: WorkloadCoverage }} props */
function WorkloadCard({ w }) {
  const rows = /** @type {Array<[string, Counts]>} */ ([
    ['inbound', w.inbound],
    ['outbound', w.outbound],
  ]).filter(([, c]) => c.calls > 0);
  return html`
    <article class="coverage-card" data-id=${w.id} aria-label=${`Coverage of ${w.id}`}>
      <h3>${w.namespace ? `${w.namespace}/` : ''}${w.workload}<span class="kind">${w.kind}</span></h3>
      <ul class="coverage-summary">
        ${w.summary.map((s) => html`<li>${s}</li>`)}
      </ul>
      <table class="coverage-table">
        <thead>
          <tr><th scope="col">calls</th><th scope="col">total</th><th scope="col">parsed</th><th scope="col">opaque TCP</th><th scope="col">app TLS</th><th scope="col">unmeshed peer</th><th scope="col">not seen here</th><th scope="col" title="plaintext between two meshed workloads: no mesh connection id joins the two records, so each side's record stands alone">plaintext meshed</th><th scope="col">capture cut</th><th scope="col">truncated body</th></tr>
        </thead>
        <tbody>
          ${rows.map(
            ([side, c]) => html`<tr data-side=${side}>
              <th scope="row">${side}</th><td>${c.calls}</td><td>${parsedText(c.parsed)}</td><td>${c.opaque}</td><td>${c.app_tls}</td><td>${c.unmeshed_peer}</td><td>${c.unobserved_here}</td><td>${c.plaintext_meshed ?? 0}</td><td>${c.capture_overflow}</td><td>${c.truncated_bodies}</td>
            </tr>`,
          )}
        </tbody>
      </table>
    </article>
  `;
}
