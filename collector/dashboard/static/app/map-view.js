// The service map: workloads and the calls between them over a time window, as SVG.
import { useEffect, useState } from 'preact/hooks';
import { html } from './html.js';
import { getServiceMap } from './api.js';
import { edgeFilter, errorBand, formatMs, formatPercent, formatRate } from './format.js';
import { layoutServiceMap } from './layout.js';
import { formatRoute } from './router.js';

const WINDOWS = [
  ['5m', 5 * 60],
  ['15m', 15 * 60],
  ['1h', 60 * 60],
  ['24h', 24 * 60 * 60],
];
const REFRESH_MS = 5000;

/**
 * @typedef {{ id: string, namespace?: string, workload?: string, kind?: string }} MapNode
 * @typedef {{ source: string, target: string, protocols?: string[], requests?: number, rate_per_s?: number,
 *   errors?: number, error_rate?: number, p50_ms?: number, p99_ms?: number }} MapEdge
 */

export function MapView() {
  const [windowSeconds, setWindowSeconds] = useState(15 * 60);
  const [data, setData] = useState(/** @type {{ nodes: MapNode[], edges: MapEdge[] } | undefined} */ (undefined));
  const [error, setError] = useState(/** @type {string | undefined} */ (undefined));

  useEffect(() => {
    const controller = new AbortController();
    const load = async () => {
      const since = String(BigInt(Date.now() - windowSeconds * 1000) * 1_000_000n);
      try {
        const r = await getServiceMap({ since }, controller.signal);
        if (r.ok) {
          setData({ nodes: r.value?.nodes ?? [], edges: r.value?.edges ?? [] });
          setError(undefined);
        } else setError(r.error.message);
      } catch {
        // Aborted on leaving the view.
      }
    };
    void load();
    const timer = setInterval(load, REFRESH_MS);
    return () => {
      clearInterval(timer);
      controller.abort();
    };
  }, [windowSeconds]);

  return html`
    <section class="map-view" aria-label="Service map">
      <div class="toolbar">
        <h2 class="view-title">Service map</h2>
        <div class="segmented" role="group" aria-label="Time window">
          ${WINDOWS.map(
            ([label, s]) => html`<button type="button" aria-pressed=${s === windowSeconds ? 'true' : 'false'} onClick=${() => setWindowSeconds(/** @type {number} */ (s))}>${label}</button>`,
          )}
        </div>
        <div class="legend" aria-label="Edge colours">
          <span class="legend-item healthy">no errors</span>
          <span class="legend-item degraded">${'<'} 5% errors</span>
          <span class="legend-item failing">≥ 5% errors</span>
        </div>
      </div>
      ${error ? html`<p class="notice error">${error}</p>` : null}
      ${data ? (data.nodes.length === 0 && data.edges.length === 0 ? html`<p class="empty">No calls in this window.</p>` : html`<${MapSvg} data=${data} />`) : html`<p class="muted">Loading…</p>`}
    </section>
  `;
}

/** @param {{ data: { nodes: MapNode[], edges: MapEdge[] } }} props */
function MapSvg({ data }) {
  const layout = layoutServiceMap(data.nodes, data.edges);
  const byId = new Map(data.nodes.map((n) => [n.id, n]));
  /** @param {MapEdge} e */
  const open = (e) => {
    location.hash = formatRoute({ view: 'calls', filter: edgeFilter(e, data.nodes) });
  };
  return html`
    <div class="map-scroller">
      <svg class="service-map" width=${layout.width} height=${layout.height + 24} viewBox=${`0 0 ${layout.width} ${layout.height + 24}`} role="group" aria-label="Workloads and calls">
        <defs>
          ${['healthy', 'degraded', 'failing', 'idle'].map(
            (band) => html`<marker id=${`arrow-${band}`} class=${`arrow ${band}`} viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" /></marker>`,
          )}
        </defs>
        <g class="edges">
          ${layout.edges.map((pe, i) => {
            const e = data.edges[i];
            const band = errorBand(e.error_rate);
            const label = `${formatRate(e.rate_per_s)} · ${formatPercent(e.error_rate)} err · p50 ${formatMs(e.p50_ms)} · p99 ${formatMs(e.p99_ms)}`;
            const name = `${byId.get(e.source)?.workload ?? e.source} to ${byId.get(e.target)?.workload ?? e.target}`;
            return html`<g
              class=${`edge ${band}`}
              data-source=${e.source}
              data-target=${e.target}
              role="link"
              tabindex="0"
              aria-label=${`Calls from ${name}: ${label}`}
              onClick=${() => open(e)}
              onKeyDown=${(/** @type {KeyboardEvent} */ ev) => (ev.key === 'Enter' || ev.key === ' ') && (ev.preventDefault(), open(e))}
            >
              <title>${name}\n${e.requests ?? 0} requests, ${e.errors ?? 0} errors\n${label}${e.protocols?.length ? `\n${e.protocols.join(', ')}` : ''}</title>
              <path class="edge-hit" d=${pe.path} />
              <path class="edge-line" d=${pe.path} marker-end=${`url(#arrow-${band})`} style=${{ strokeWidth: `${edgeWidth(e.rate_per_s)}px` }} />
              <text class="edge-label" x=${pe.labelX} y=${pe.labelY} text-anchor="middle">${formatRate(e.rate_per_s)} · ${formatPercent(e.error_rate)} · p99 ${formatMs(e.p99_ms)}</text>
            </g>`;
          })}
        </g>
        <g class="nodes">
          ${layout.nodes.map((pn) => {
            const n = byId.get(pn.id);
            return html`<g class="node" data-id=${pn.id} transform=${`translate(${pn.x} ${pn.y})`}>
              <rect width=${pn.width} height=${pn.height} rx="10" />
              <text class="node-name" x="12" y="21">${truncate(n?.workload ?? pn.id, 20)}</text>
              <text class="node-meta" x="12" y="38">${truncate([n?.namespace, n?.kind].filter(Boolean).join(' · ') || 'unknown peer', 26)}</text>
            </g>`;
          })}
        </g>
      </svg>
    </div>
  `;
}

/** Thicker for busier edges, on a log scale so one hot edge does not dwarf the rest. */
function edgeWidth(/** @type {number | undefined} */ rate) {
  return 1.5 + Math.min(4, Math.log10(1 + (rate ?? 0)) * 1.5);
}

function truncate(/** @type {string} */ s, /** @type {number} */ n) {
  return s.length > n ? `${s.slice(0, n - 1)}…` : s;
}
