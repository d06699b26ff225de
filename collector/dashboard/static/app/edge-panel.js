// The side panel of one service map edge: every number the map has for it, how the callee's
// replicas share the load, and a link to the edge's calls in the stream (over the map's window).
import { html } from './html.js';
import { formatPercent } from './format.js';
import { edgeCallsFilter, edgeDetailRows } from './map-edge.js';
import { formatRoute } from './router.js';

/**
 * @typedef {import('./map-edge.js').MapEdge} MapEdge
 * @typedef {import('./map-edge.js').MapNode} MapNode
 */

/**
 * @param {{ edge: MapEdge, nodes: MapNode[], sinceMs?: number, onClose: () => void }} props
 *   `sinceMs`: where the map's window starts; the link to the calls starts there too
 */
export function EdgePanel({ edge, nodes, sinceMs, onClose }) {
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const name = (/** @type {string} */ id) => byId.get(id)?.workload ?? id;
  const hot = new Set(edge.hot_replicas ?? []);
  const href = formatRoute({ view: 'calls', filter: edgeCallsFilter(edge, nodes, sinceMs) });
  return html`
    <aside class="edge-panel" aria-label="Edge details" data-source=${edge.source} data-target=${edge.target}>
      <div class="detail-head">
        <h3 class="detail-title">${name(edge.source)} → ${name(edge.target)}</h3>
        <p class="detail-sub">${edge.source} → ${edge.target}</p>
        <button type="button" class="close" aria-label="Close edge details" onClick=${onClose}>✕</button>
      </div>
      <div class="detail-body">
        <table class="edge-numbers">
          <tbody>
            ${edgeDetailRows(edge).map(([label, value]) => html`<tr><th scope="row">${label}</th><td>${value}</td></tr>`)}
          </tbody>
        </table>
        ${(edge.replicas ?? []).length > 0
          ? html`<section class="replicas" aria-label="Load per replica">
              <h4>Load per replica of ${name(edge.target)}</h4>
              <ul>
                ${(edge.replicas ?? []).map(
                  (r) => html`<li class=${hot.has(r.pod) ? 'hot' : ''} data-pod=${r.pod}>
                    <span class="pod">${r.pod}${hot.has(r.pod) ? html` <span class="hot-badge">hot</span>` : null}</span>
                    <span class="bar" style=${{ width: `${Math.round(r.share * 100)}%` }}></span>
                    <span class="share">${r.requests} · ${formatPercent(r.share)}</span>
                  </li>`,
                )}
              </ul>
            </section>`
          : null}
        <a class="edge-calls-link" href=${href}>Show the calls of this edge</a>
      </div>
    </aside>
  `;
}
