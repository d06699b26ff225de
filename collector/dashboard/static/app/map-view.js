// The service map: workloads grouped by namespace and the calls between them over a time
// window, as SVG, laid out for the width it is shown in (map-layout.js). Edges carry a short
// label where it fits, drawn above every line; hovering shows a card with more, clicking opens
// a side panel with every number and a link to the edge's calls. Calls crossing nodes are
// dashed; a callee whose replicas share the load unevenly is marked hot. The window is in the
// address (#/map?window=1h), so a reload or Back keeps it.
import { useEffect, useLayoutEffect, useMemo, useRef, useState } from 'preact/hooks';
import { html } from './html.js';
import { getServiceMap } from './api.js';
import { errorBand } from './format.js';
import { EdgePanel } from './edge-panel.js';
import { edgeHoverLines, edgeLabel } from './map-edge.js';
import { layoutGroupedMap } from './map-layout.js';
import { measureTextWidth } from './text-measure.js';
import { formatRoute } from './router.js';
import { TIME_WINDOWS as WINDOWS, windowSeconds as secondsOf } from './time-windows.js';

const REFRESH_MS = 5000;
/** Where the map's "fit to width" choice is kept (on unless turned off). */
const FIT_KEY = 'meshtap.map.fit';
/** The scroller's horizontal padding (app.css `.map-scroller`), which the map does not get. */
const SCROLLER_PADDING_X = 32;

/**
 * @typedef {import('./map-edge.js').MapNode} MapNode
 * @typedef {import('./map-edge.js').MapEdge} MapEdge
 */

/**
 * @param {{ window?: string }} props the time window's label, from the address (#/map?window=1h)
 */
export function MapView({ window: windowLabel }) {
  const windowSeconds = secondsOf(windowLabel);
  // The window lives in the address: a reload or Back keeps it. Replaced, not pushed, so Back
  // leaves the map rather than stepping through the windows chosen on it.
  const choose = (/** @type {string} */ label) => location.replace(formatRoute({ view: 'map', window: label }));
  const [data, setData] = useState(/** @type {{ nodes: MapNode[], edges: MapEdge[], sinceMs: number } | undefined} */ (undefined));
  const [error, setError] = useState(/** @type {string | undefined} */ (undefined));
  const [selected, setSelected] = useState(/** @type {string | undefined} */ (undefined));

  useEffect(() => {
    const controller = new AbortController();
    const load = async () => {
      const sinceMs = Date.now() - windowSeconds * 1000;
      const since = String(BigInt(sinceMs) * 1_000_000n);
      try {
        const r = await getServiceMap({ since }, controller.signal);
        if (r.ok) {
          setData({ nodes: r.value?.nodes ?? [], edges: r.value?.edges ?? [], sinceMs });
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

  const selectedEdge = data?.edges.find((e) => edgeKey(e) === selected);
  return html`
    <section class=${`map-view${selectedEdge ? ' with-panel' : ''}`} aria-label="Service map">
      <div class="toolbar">
        <h2 class="view-title">Service map</h2>
        <div class="segmented" role="group" aria-label="Time window">
          ${WINDOWS.map(
            ([label, s]) => html`<button type="button" aria-pressed=${s === windowSeconds ? 'true' : 'false'} onClick=${() => choose(label)}>${label}</button>`,
          )}
        </div>
        <div class="legend" aria-label="Edge colours">
          <span class="legend-item healthy">no errors</span>
          <span class="legend-item degraded">${'<'} 5% errors</span>
          <span class="legend-item failing">≥ 5% errors</span>
          <span class="legend-item cross-node">cross-node</span>
          <span class="legend-hot">hot replica</span>
        </div>
      </div>
      ${error ? html`<p class="notice error">${error}</p>` : null}
      <div class="map-body">
        ${data
          ? data.nodes.length === 0 && data.edges.length === 0
            ? html`<p class="empty">No calls in this window.</p>`
            : html`<${MapSvg} data=${data} selected=${selected} onSelect=${setSelected} />`
          : error
            ? null
            : html`<p class="muted loading">Loading…</p>`}
        ${selectedEdge && data ? html`<${EdgePanel} edge=${selectedEdge} nodes=${data.nodes} sinceMs=${data.sinceMs} onClose=${() => setSelected(undefined)} />` : null}
      </div>
    </section>
  `;
}

/** @param {{ source: string, target: string }} e */
const edgeKey = (e) => `${e.source}\u0000${e.target}`;

/** @param {{ data: { nodes: MapNode[], edges: MapEdge[] }, selected?: string, onSelect: (key: string | undefined) => void }} props */
function MapSvg({ data, selected, onSelect }) {
  const [hovered, setHovered] = useState(/** @type {string | undefined} */ (undefined));
  // The layout fits the map area's width (measured before the first paint), so a narrow window
  // gets namespace boxes in rows rather than one row shrunk past reading. The width is the map
  // body's, the edge panel's included: opening or closing the panel moves nothing (the map is
  // laid out, scaled and placed as without it, and scrolls under a narrower scroller), so the
  // edge under the pointer stays the one clicked.
  const scroller = useRef(/** @type {HTMLDivElement | null} */ (null));
  const [available, setAvailable] = useState(0);
  const byId = new Map(data.nodes.map((n) => [n.id, n]));
  // A callee is hot when any edge into it leans on some replicas more than the others.
  /** @type {Map<string, string[]>} */
  const hotPods = new Map();
  for (const e of data.edges) if ((e.hot_replicas ?? []).length > 0) hotPods.set(e.target, [...new Set([...(hotPods.get(e.target) ?? []), ...(e.hot_replicas ?? [])])]);
  const layout = useMemo(() => {
    // An edge may name a peer the node list lacks.
    const peers = [...new Set(data.edges.flatMap((e) => [e.source, e.target]))].filter((id) => !byId.has(id));
    return layoutGroupedMap(
      [
        ...data.nodes.map((n) => ({ id: n.id, namespace: n.namespace, name: n.workload ?? n.id, meta: n.kind ?? 'unknown peer', mark: hotPods.has(n.id) })),
        ...peers.map((id) => ({ id, name: id, meta: 'unknown peer', mark: hotPods.has(id) })),
      ],
      data.edges.map((e) => ({ source: e.source, target: e.target, label: edgeLabel(e) })),
      { width: available, textWidth: measureTextWidth },
    );
  }, [data, available]);
  const hoveredIndex = data.edges.findIndex((e) => edgeKey(e) === hovered);
  const hoverEdge = hoveredIndex === -1 ? undefined : data.edges[hoveredIndex];
  const hoverAt = hoveredIndex === -1 ? undefined : hoverPoint(layout.edges[hoveredIndex]);
  // A map still wider than the window is shrunk to its width (the whole map at a glance) unless
  // the user asked for its actual size, which scrolls; the choice is remembered.
  const [fit, setFit] = useState(() => globalThis.localStorage?.getItem(FIT_KEY) !== 'off');
  useLayoutEffect(() => {
    const el = scroller.current?.parentElement;
    if (!el) return undefined;
    const measure = () => setAvailable(Math.max(0, el.clientWidth - SCROLLER_PADDING_X));
    measure();
    const observer = new ResizeObserver(measure);
    observer.observe(el);
    return () => observer.disconnect();
  }, []);
  const wider = available > 0 && layout.width > available;
  const scale = fit && wider ? available / layout.width : 1;
  const toggleFit = () => {
    globalThis.localStorage?.setItem(FIT_KEY, fit ? 'off' : 'on');
    setFit(!fit);
  };
  return html`
    <div class="map-scroller" ref=${scroller}>
      ${wider
        ? html`<div class="map-zoom">
            <button type="button" class="map-fit" aria-pressed=${fit ? 'true' : 'false'} onClick=${toggleFit} title=${fit ? 'Show the map at its actual size (scrolls)' : 'Shrink the map to the window\'s width'}>Fit to width</button>
            <span class="map-scale muted">${Math.round(scale * 100)}%</span>
          </div>`
        : null}
      <div class="map-sizer" style=${{ width: `${layout.width * scale}px`, height: `${layout.height * scale}px`, marginLeft: `${Math.max(0, (available - layout.width * scale) / 2)}px` }}>
      <div class="map-canvas" style=${{ width: `${layout.width}px`, height: `${layout.height}px`, transform: scale === 1 ? undefined : `scale(${scale})` }}>
      <svg class="service-map" width=${layout.width} height=${layout.height} viewBox=${`0 0 ${layout.width} ${layout.height}`} role="group" aria-label="Workloads and calls">
        <defs>
          ${['healthy', 'degraded', 'failing', 'idle'].map(
            (band) => html`<marker id=${`arrow-${band}`} class=${`arrow ${band}`} viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" /></marker>`,
          )}
        </defs>
        <g class="groups">
          ${layout.groups.map(
            (g) => html`<g class="ns-group" data-namespace=${g.namespace}>
              <title>${g.namespace ? `namespace ${g.namespace}` : 'outside the cluster'}</title>
              <rect x=${g.x} y=${g.y} width=${g.width} height=${g.height} rx="12" />
              <text class="ns-name" x=${g.x + 12} y=${g.y + 18}>${g.title}</text>
            </g>`,
          )}
        </g>
        <g class="edges">
          ${layout.edges.map((pe, i) => {
            const e = data.edges[i];
            const key = edgeKey(e);
            const band = errorBand(e.error_rate);
            const name = `${byId.get(e.source)?.workload ?? e.source} to ${byId.get(e.target)?.workload ?? e.target}`;
            const open = () => onSelect(selected === key ? undefined : key);
            return html`<g
              class=${`edge ${band}${e.cross_node ? ' cross-node' : ''}${selected === key ? ' selected' : ''}${hovered === key ? ' hovered' : ''}`}
              data-source=${e.source}
              data-target=${e.target}
              role="button"
              tabindex="0"
              aria-pressed=${selected === key ? 'true' : 'false'}
              aria-label=${`Calls from ${name}: ${edgeLabel(e)}. Open details`}
              onClick=${open}
              onMouseEnter=${() => setHovered(key)}
              onMouseLeave=${() => setHovered((h) => (h === key ? undefined : h))}
              onFocus=${() => setHovered(key)}
              onBlur=${() => setHovered((h) => (h === key ? undefined : h))}
              onKeyDown=${(/** @type {KeyboardEvent} */ ev) => (ev.key === 'Enter' || ev.key === ' ') && (ev.preventDefault(), open())}
            >
              <title>${name}\n${edgeHoverLines(e).slice(0, -1).join('\n')}</title>
              <path class="edge-hit" d=${pe.path} />
              <path class="edge-line" d=${pe.path} marker-end=${`url(#arrow-${band})`} style=${{ strokeWidth: `${edgeWidth(e.rate_per_s)}px` }} />
            </g>`;
          })}
        </g>
        <g class="nodes">
          ${layout.nodes.map((pn) => {
            const n = byId.get(pn.id);
            const hot = hotPods.get(pn.id);
            return html`<g class=${`node${hot ? ' hot' : ''}`} data-id=${pn.id} data-namespace=${pn.namespace} transform=${`translate(${pn.x} ${pn.y})`}>
              <title>${pn.fullName}${n?.kind ? ` (${n.kind})` : ''}${pn.namespace ? ` in ${pn.namespace}` : ''}</title>
              <rect width=${pn.width} height=${pn.height} rx="10" />
              <text class="node-name" x="12" y="21">${pn.name}</text>
              <text class="node-meta" x="12" y="38">${pn.meta}</text>
              ${hot
                ? html`<g class="hot-mark"><title>${`Hot replica${hot.length > 1 ? 's' : ''}: ${hot.join(', ')} take more than their share of calls`}</title><circle cx=${pn.width - 14} cy="14" r="6" /></g>`
                : null}
            </g>`;
          })}
        </g>
        <g class="edge-labels">
          ${layout.edges.map((pe, i) => {
            if (!pe.label) return null;
            const e = data.edges[i];
            const key = edgeKey(e);
            // Part of the edge above (its button carries the label's words): a larger target to
            // hover and click, drawn over every line so none runs through its text.
            return html`<g
              class=${`edge-tag ${errorBand(e.error_rate)}${selected === key ? ' selected' : ''}`}
              data-source=${e.source}
              data-target=${e.target}
              aria-hidden="true"
              onClick=${() => onSelect(selected === key ? undefined : key)}
              onMouseEnter=${() => setHovered(key)}
              onMouseLeave=${() => setHovered((h) => (h === key ? undefined : h))}
            >
              <rect x=${pe.label.x} y=${pe.label.y} width=${pe.label.width} height=${pe.label.height} rx="4" />
              <text class="edge-label" x=${pe.label.x + pe.label.width / 2} y=${pe.label.y + pe.label.height - 4} text-anchor="middle">${pe.label.text}</text>
            </g>`;
          })}
        </g>
      </svg>
      ${hoverEdge && hoverAt
        ? html`<div class="edge-hover" role="tooltip" style=${{ left: `${hoverAt[0]}px`, top: `${hoverAt[1]}px` }}>
            <strong>${byId.get(hoverEdge.source)?.workload ?? hoverEdge.source} → ${byId.get(hoverEdge.target)?.workload ?? hoverEdge.target}</strong>
            ${edgeHoverLines(hoverEdge).map((l) => html`<div>${l}</div>`)}
          </div>`
        : null}
      </div>
      </div>
    </div>
  `;
}

/**
 * Where the hover card goes: at the edge's label, else halfway along its line.
 * @param {import('./map-layout.js').PlacedMapEdge} pe
 * @returns {[number, number]}
 */
function hoverPoint(pe) {
  if (pe.label) return [pe.label.x, pe.label.y + pe.label.height + 4];
  return [pe.mid[0], pe.mid[1] + 8];
}

/** Thicker for busier edges, on a log scale so one hot edge does not dwarf the rest. */
function edgeWidth(/** @type {number | undefined} */ rate) {
  return 1.5 + Math.min(4, Math.log10(1 + (rate ?? 0)) * 1.5);
}
