// The live call stream: filter bar, pause/resume, and a virtualised table (only the rows on
// screen, plus a margin, exist in the DOM, whatever the number of calls). One row per call by
// default (both sidecars' records of an exchange joined); a toggle shows one per observation.
import { useEffect, useLayoutEffect, useMemo, useRef, useState } from 'preact/hooks';
import { html } from './html.js';
import { checkFilter } from './api.js';
import { caretAt, endpointName, formatBytes, formatClock, formatDuration, formatTimestamp, statusClass, statusText, statusTitle } from './format.js';
import { formatRoute } from './router.js';
import { LockIcon } from './icons.js';
import { buildRows, rowHolds, statusColumnWidth } from './call-rows.js';
import { anchorAt, anchoredTop } from './scroll-anchor.js';

/** @typedef {import('./call-rows.js').RowMode} RowMode */

const MODE_KEY = 'meshtap.rows';
/** @type {RowMode} */
let rowMode = readMode();

/** @returns {RowMode} */
function readMode() {
  try {
    return globalThis.localStorage?.getItem(MODE_KEY) === 'records' ? 'records' : 'calls';
  } catch {
    return 'calls';
  }
}

/**
 * What the call feed lists for the row mode: calls (both records of each) or records.
 * @param {RowMode} [mode]
 * @returns {import('./call-feed.js').FeedView}
 */
export const feedView = (mode = rowMode) => (mode === 'records' ? 'record' : 'call');

/** @param {RowMode} mode */
function saveMode(mode) {
  rowMode = mode;
  try {
    globalThis.localStorage?.setItem(MODE_KEY, mode);
  } catch {
    // Storage may be off: the choice then lasts as long as the page.
  }
}

/** @type {Map<string, number>} */
const pillWidths = new Map();
/** @type {CanvasRenderingContext2D | null | undefined} */
let pillContext;

/**
 * The drawn width of a status pill's text, in the pill's font (app.css `.status-pill`: 600 12px
 * monospace), measured on a canvas; undefined where there is none.
 * @param {string} text
 */
function measurePill(text) {
  const known = pillWidths.get(text);
  if (known !== undefined) return known;
  pillContext ??= globalThis.document?.createElement('canvas').getContext('2d') ?? null;
  if (!pillContext) return undefined;
  pillContext.font = `600 12px ${getComputedStyle(document.documentElement).getPropertyValue('--mono').trim() || 'monospace'}`;
  const width = pillContext.measureText(text).width;
  pillWidths.set(text, width);
  return width;
}

/** Must match `--row-height` in app.css. */
export const ROW_HEIGHT = 30;
const OVERSCAN = 10;
const FILTER_DEBOUNCE_MS = 250;

const EXAMPLES = [
  'status_code >= 500',
  'method == "POST" && dst.workload == "payment"',
  'elapsed_us > 100000',
  'response.body.contains("error")',
];

/**
 * @param {{ feed: ReturnType<typeof import('./call-feed.js').createCallFeed>, selectedId?: string, routeFilter?: string }} props
 */
export function StreamView({ feed, selectedId, routeFilter }) {
  const [state, setState] = useState(feed.state);
  const [mode, setMode] = useState(rowMode);
  /** The filter box holds an expression that does not compile: the list is the last good filter's. */
  const [stale, setStale] = useState(false);
  useEffect(() => feed.subscribe(setState), [feed]);
  const rows = useMemo(() => buildRows(state.calls, mode), [state.calls, mode]);
  /** @param {RowMode} next */
  const choose = (next) => {
    saveMode(next);
    setMode(next);
    void feed.setView(feedView(next));
  };
  return html`
    <section class=${`stream${stale ? ' stale' : ''}`} aria-label="Live calls">
      <${FilterBar} feed=${feed} state=${state} routeFilter=${routeFilter} mode=${mode} rows=${rows.length} onMode=${choose} onStale=${setStale} />
      <${CallTable} state=${state} rows=${rows} mode=${mode} selectedId=${selectedId} />
    </section>
  `;
}

/**
 * @param {{ feed: any, state: import('./call-feed.js').FeedState, routeFilter?: string, mode: RowMode, rows: number, onMode: (m: RowMode) => void, onStale: (stale: boolean) => void }} props
 */
function FilterBar({ feed, state, routeFilter, mode, rows, onMode, onStale }) {
  const [text, setText] = useState(routeFilter ?? state.filter);
  /** @type {[null | { message: string, code?: string, position?: any, source: string }, any]} */
  const [problem, setProblem] = useState(null);
  const [checking, setChecking] = useState(false);
  const lastRouteFilter = useRef(routeFilter);

  // A new filter in the URL (a map edge was clicked, a link was opened) replaces the text.
  useEffect(() => {
    if (routeFilter !== lastRouteFilter.current) {
      lastRouteFilter.current = routeFilter;
      setText(routeFilter ?? '');
    }
  }, [routeFilter]);

  useEffect(() => {
    const controller = new AbortController();
    const timer = setTimeout(async () => {
      setChecking(true);
      try {
        const result = await checkFilter(text, controller.signal);
        if (controller.signal.aborted) return;
        if (result.ok) {
          setProblem(null);
          void feed.setFilter(text.trim());
          syncFilterToUrl(text.trim());
        } else {
          setProblem({ ...result.error, source: text });
        }
      } catch {
        // Aborted: the user typed on.
      } finally {
        if (!controller.signal.aborted) setChecking(false);
      }
    }, text === state.filter ? 0 : FILTER_DEBOUNCE_MS);
    return () => {
      clearTimeout(timer);
      controller.abort();
    };
  }, [text]);

  useEffect(() => onStale(problem !== null), [problem]);

  const caret = problem?.position ? caretAt(problem.source, problem.position) : undefined;
  return html`
    <div class="toolbar">
      <form class="filter" role="search" onSubmit=${(/** @type {Event} */ e) => e.preventDefault()}>
        <label for="filter-input" class="visually-hidden">Filter (CEL)</label>
        <div class="filter-box ${problem ? 'invalid' : ''}">
          <span class="filter-prefix" aria-hidden="true">filter</span>
          <input
            id="filter-input"
            type="search"
            spellcheck="false"
            autocomplete="off"
            placeholder=${`CEL, e.g. ${EXAMPLES[0]} — ${EXAMPLES[1]}`}
            value=${text}
            aria-invalid=${problem ? 'true' : 'false'}
            aria-describedby="filter-error"
            onInput=${(/** @type {InputEvent} */ e) => setText(/** @type {HTMLInputElement} */ (e.currentTarget).value)}
          />
          ${checking ? html`<span class="spinner" aria-label="checking filter"></span>` : null}
        </div>
        <div id="filter-error" class="filter-error" role="status" aria-live="polite" hidden=${!problem}>
          ${problem
            ? html`<div class="filter-error-message"><strong>${problem.code ?? 'error'}</strong> ${problem.message}</div>
                ${caret
                  ? html`<pre class="caret-view" data-line=${caret.line} data-column=${problem.position?.column}><code>${caret.text}</code>${'\n'}<span class="caret" aria-hidden="true">${' '.repeat(caret.caret)}^</span></pre>`
                  : null}
                <div class="filter-stale">
                  Not applied: the list below still shows ${state.filter ? html`the calls of the previous filter <code>${state.filter}</code>` : 'every call (no filter)'}.
                </div>`
            : null}
        </div>
      </form>
      <div class="controls">
        <${FeedStatusBadge} state=${state} mode=${mode} rows=${rows} />
        <div class="segmented row-mode" role="group" aria-label="One row per">
          <button type="button" class=${mode === 'calls' ? 'on' : ''} aria-pressed=${mode === 'calls' ? 'true' : 'false'} data-mode="calls" onClick=${() => onMode('calls')} title="One row per call: the client's and the server's observations joined">Calls</button>
          <button type="button" class=${mode === 'records' ? 'on' : ''} aria-pressed=${mode === 'records' ? 'true' : 'false'} data-mode="records" onClick=${() => onMode('records')} title="One row per observation: a meshed call has two, one from each sidecar">Observations</button>
        </div>
        ${state.paused
          ? html`<button type="button" class="primary" onClick=${() => feed.resume()}>Resume${state.pending ? ` (${state.pending} new)` : ''}</button>`
          : html`<button type="button" onClick=${() => feed.pause()}>Pause</button>`}
        <button type="button" onClick=${() => feed.clear()} title="Clear the list (new calls keep coming)">Clear</button>
        <a
          class="button har-export"
          href=${`api/har?limit=1000${state.filter ? `&filter=${encodeURIComponent(state.filter)}` : ''}`}
          download="meshtap.har"
          title="The HTTP, HTTP/2 and gRPC calls the filter matches, as a HAR 1.2 file (bodies as captured, masked values stay masked)"
          >Export HAR</a
        >
      </div>
    </div>
  `;
}

/** Keeps `?filter=` in the URL in step with the applied filter, without a navigation. */
function syncFilterToUrl(/** @type {string} */ filter) {
  const hash = location.hash || '#/calls';
  const m = /^#\/calls(\/[^?]*)?/.exec(hash);
  if (!m) return;
  const next = formatRoute({ view: 'calls', callId: m[1] ? decodeURIComponent(m[1].slice(1)) : undefined, filter: filter || undefined });
  if (next !== hash) history.replaceState(null, '', next);
}

/** @param {{ state: import('./call-feed.js').FeedState, mode: RowMode, rows: number }} props */
function FeedStatusBadge({ state, mode, rows }) {
  const label = state.paused ? 'paused' : state.status;
  return html`<span class="feed-status ${label}" title=${state.error ?? ''} role="status">
    <span class="dot" aria-hidden="true"></span>${label} · <span class="count">${rows.toLocaleString()}</span> ${mode === 'records' ? (rows === 1 ? 'observation' : 'observations') : rows === 1 ? 'call' : 'calls'}
  </span>`;
}

/**
 * @param {{ state: import('./call-feed.js').FeedState, rows: import('./call-rows.js').Row[], mode: RowMode, selectedId?: string }} props
 */
function CallTable({ state, rows, mode, selectedId }) {
  /** @type {import('preact').RefObject<HTMLDivElement>} */
  const scroller = useRef(null);
  const [scrollTop, setScrollTop] = useState(0);
  const [viewport, setViewport] = useState(600);
  const rowsNow = useRef(rows);
  rowsNow.current = rows;
  /** The row at the top of the window, while the reader is scrolled down (scroll-anchor.js). */
  const anchor = useRef(/** @type {import('./scroll-anchor.js').Anchor | undefined} */ (undefined));

  useEffect(() => {
    const el = scroller.current;
    if (!el) return undefined;
    const observer = new ResizeObserver(() => setViewport(el.clientHeight));
    observer.observe(el);
    setViewport(el.clientHeight);
    return () => observer.disconnect();
  }, []);

  // Someone reading further down keeps their place when rows arrive or move above them (the
  // browser's own scroll anchoring is off: app.css).
  useLayoutEffect(() => {
    const el = scroller.current;
    if (!el) return;
    const top = anchoredTop(rows, anchor.current, ROW_HEIGHT);
    if (top !== undefined && top !== el.scrollTop) {
      el.scrollTop = top;
      setScrollTop(el.scrollTop);
    }
    anchor.current = anchorAt(rows, el.scrollTop, ROW_HEIGHT);
  }, [rows]);

  // A new filter starts a new list: back to its top.
  const lastFilter = useRef(state.filter);
  useLayoutEffect(() => {
    if (state.filter !== lastFilter.current && scroller.current) {
      scroller.current.scrollTop = 0;
      setScrollTop(0);
    }
    lastFilter.current = state.filter;
  }, [state.filter]);

  const calls = rows;
  // The Status column is as wide as the widest status listed: an error name is never cut.
  const statusWidth = useMemo(() => statusColumnWidth(rows, measurePill), [rows]);
  // The list may have shrunk under a scrolled view before any scroll event says so.
  const top = Math.min(scrollTop, Math.max(0, calls.length * ROW_HEIGHT - viewport + ROW_HEIGHT));
  const first = Math.max(0, Math.floor(top / ROW_HEIGHT) - OVERSCAN);
  const last = Math.min(calls.length, Math.ceil((top + viewport) / ROW_HEIGHT) + OVERSCAN);
  const visible = calls.slice(first, last);

  /** Scrolls row `index` into sight and gives it the keyboard focus. */
  function focusRow(/** @type {number} */ index) {
    const el = scroller.current;
    if (!el) return;
    const top = index * ROW_HEIGHT;
    const headerHeight = ROW_HEIGHT;
    if (top < el.scrollTop) el.scrollTop = top;
    else if (top + ROW_HEIGHT > el.scrollTop + el.clientHeight - headerHeight) el.scrollTop = top + ROW_HEIGHT - el.clientHeight + headerHeight;
    setScrollTop(el.scrollTop);
    const focus = () => /** @type {HTMLElement | null} */ (el.querySelector(`tr[data-index="${index}"]`))?.focus();
    // The row is usually rendered already (overscan); after a long jump it appears next frame.
    if (el.querySelector(`tr[data-index="${index}"]`)) focus();
    else requestAnimationFrame(focus);
  }

  // The detail closed with the focus in it (gone with it): the focus goes back to the row that
  // opened it. Focus the reader put elsewhere (the filter box) stays there.
  const lastSelected = useRef(selectedId);
  useEffect(() => {
    const closed = lastSelected.current;
    lastSelected.current = selectedId;
    if (selectedId !== undefined || closed === undefined) return;
    if (document.activeElement && document.activeElement !== document.body) return;
    const index = rowsNow.current.findIndex((r) => rowHolds(r, closed));
    if (index >= 0) focusRow(index);
  }, [selectedId]);

  /** @param {KeyboardEvent} e */
  function onKeyDown(e) {
    const row = /** @type {HTMLElement} */ (e.target).closest?.('tr[data-index]');
    if (!row) return;
    const index = Number(row.getAttribute('data-index'));
    if (e.key === 'Enter' || e.key === ' ') {
      e.preventDefault();
      location.hash = formatRoute({ view: 'calls', callId: calls[index].call.id, filter: state.filter || undefined });
      return;
    }
    const step = e.key === 'ArrowDown' ? 1 : e.key === 'ArrowUp' ? -1 : e.key === 'PageDown' ? 20 : e.key === 'PageUp' ? -20 : 0;
    if (step === 0) return;
    e.preventDefault();
    focusRow(Math.min(calls.length - 1, Math.max(0, index + step)));
  }

  return html`
    <div
      class="table-scroller"
      ref=${scroller}
      onScroll=${(/** @type {Event} */ e) => {
        const top = /** @type {HTMLElement} */ (e.currentTarget).scrollTop;
        anchor.current = anchorAt(rowsNow.current, top, ROW_HEIGHT);
        setScrollTop(top);
      }}
    >
      <table class="calls" aria-rowcount=${calls.length + 1}>
        <thead>
          <tr>
            <th scope="col" class="c-time" title="Times are UTC, as in the call detail, the trace view and meshtap tap">Time (UTC)</th>
            <th scope="col" class="c-route">Source → Destination</th>
            <th scope="col" class="c-method">Method</th>
            <th scope="col" class="c-path">Path</th>
            <th scope="col" class="c-status" style=${{ width: `${statusWidth}px` }}>Status</th>
            <th scope="col" class="c-num">Latency</th>
            <th scope="col" class="c-num c-size">Size</th>
            <th scope="col" class="c-proto">Proto</th>
          </tr>
        </thead>
        <tbody onKeyDown=${onKeyDown}>
          ${first > 0 ? html`<tr class="spacer" aria-hidden="true" style=${{ height: `${first * ROW_HEIGHT}px` }}></tr>` : null}
          ${visible.map(
            (row, i) =>
              html`<${CallRow} key=${row.key} row=${row} mode=${mode} index=${first + i} selected=${selectedId !== undefined && rowHolds(row, selectedId)} filter=${state.filter} />`,
          )}
          ${last < calls.length ? html`<tr class="spacer" aria-hidden="true" style=${{ height: `${(calls.length - last) * ROW_HEIGHT}px` }}></tr>` : null}
        </tbody>
      </table>
      ${calls.length === 0
        ? html`<div class="empty">
            ${state.status === 'error'
              ? html`<p><strong>Cannot list calls:</strong> ${state.error}</p>`
              : state.filter
                ? html`<p>No calls match <code>${state.filter}</code> yet.</p>`
                : html`<p>Waiting for calls… traffic between meshed workloads appears here as it happens.</p>`}
          </div>`
        : null}
    </div>
  `;
}

/**
 * @param {{ row: import('./call-rows.js').Row, mode: RowMode, index: number, selected: boolean, filter: string }} props
 */
function CallRow({ row, mode, index, selected, filter }) {
  const call = row.call;
  const cls = statusClass(call);
  const href = formatRoute({ view: 'calls', callId: call.id, filter: filter || undefined });
  const size = (call.request?.body_size ?? 0) + (call.response?.body_size ?? 0);
  const src = endpointName(call.src);
  const dst = endpointName(call.dst);
  return html`
    <tr
      data-index=${index}
      data-id=${call.id}
      data-call=${mode === 'calls' ? row.key : undefined}
      data-sides=${mode === 'calls' ? (row.oneSided ?? 'both') : call.observer === 'inbound' ? 'server' : 'client'}
      aria-rowindex=${index + 2}
      tabindex="0"
      class=${`call-row status-${cls}${selected ? ' selected' : ''}`}
      aria-selected=${selected ? 'true' : 'false'}
      onClick=${() => (location.hash = href)}
    >
      <td class="c-time mono" title=${formatTimestamp(call.start)}>${formatClock(call.start)}</td>
      <td class="c-route" title=${`${call.src?.pod ?? src} (${call.src?.namespace ?? '?'}) → ${call.dst?.pod ?? dst} (${call.dst?.namespace ?? '?'})`}>
        <span class="ep">${src}</span><span class="arrow" aria-label="to">→</span><span class="ep">${dst}</span>
        ${call.tls?.mesh ? html`<${LockIcon} />` : null}
        ${row.oneSided ? html`<span class="side-badge" title=${`only the ${row.oneSided} sidecar's record of this call is here (an unmeshed peer, or the other record is not in the list)`}>${row.oneSided}-only</span>` : null}
        ${mode === 'records' ? html`<span class="side-badge observer">${call.observer === 'inbound' ? 'server' : 'client'}</span>` : null}
      </td>
      <td class="c-method"><span class="method">${call.method ?? ''}</span></td>
      <td class="c-path mono" title=${call.method ? `${call.method} ${call.path ?? ''}` : (call.path ?? '')}>${call.method ? html`<span class="method path-method">${call.method}${' '}</span>` : null}${call.path ?? (call.protocol === 'tcp' ? `${call.bytes_out ?? 0}/${call.bytes_in ?? 0} B` : '')}</td>
      <td class="c-status" title=${statusTitle(call)}><span class=${`status-pill ${cls}`}>${statusText(call)}</span></td>
      <td class="c-num mono" title=${row.client && row.server ? `client ${formatDuration(row.client.elapsed_us)}, server ${formatDuration(row.server.elapsed_us)}` : ''}>${formatDuration(call.elapsed_us)}</td>
      <td class="c-num c-size mono">${formatBytes(size)}</td>
      <td class="c-proto">${call.protocol ?? ''}</td>
    </tr>
  `;
}
