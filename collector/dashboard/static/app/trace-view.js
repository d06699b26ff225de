// A trace as a waterfall: one row per call, nested under the call that caused it, with the
// caller's (CLIENT) and callee's (SERVER) view of the same call drawn as two bars. A call linked
// to its parent by timing alone (the app propagated no trace context) shows the link's
// confidence when several requests could have caused it; a SERVER bar moved for clock skew says
// so in its title (see waterfall.js). An id the collector joined into another trace (an app's own
// trace id, for a request that came without one) opens that trace, and says so.
import { useEffect, useState } from 'preact/hooks';
import { html } from './html.js';
import { getTrace, traceRecords } from './api.js';
import { endpointName, formatDuration, formatTimestamp, statusClass, statusText } from './format.js';
import { formatRoute } from './router.js';
import { buildWaterfall } from './waterfall.js';

/** @param {{ traceId: string }} props */
export function TraceView({ traceId }) {
  const [records, setRecords] = useState(/** @type {import('./types.js').CallJson[] | undefined} */ (undefined));
  // The trace the collector answered `asked` with: another one when `asked` was joined into it.
  const [answered, setAnswered] = useState(/** @type {{ asked: string, id: string } | undefined} */ (undefined));
  const [error, setError] = useState(/** @type {string | undefined} */ (undefined));
  const [reload, setReload] = useState(0);

  useEffect(() => {
    const controller = new AbortController();
    getTrace(traceId, controller.signal)
      .then((r) => {
        if (r.ok) {
          setRecords(traceRecords(r.value));
          setAnswered(typeof r.value?.trace_id === 'string' ? { asked: traceId, id: r.value.trace_id } : undefined);
          setError(undefined);
        } else setError(r.error.message);
      })
      .catch(() => {});
    return () => controller.abort();
  }, [traceId, reload]);

  const model = records ? buildWaterfall(records) : undefined;
  // Until this id's answer comes, the previous trace's answer says nothing about it.
  const shown = answered !== undefined && answered.asked === traceId ? answered.id : traceId;
  const ticks = model ? axisTicks(model.totalUs) : [];
  return html`
    <section class="trace-view" aria-label="Trace">
      <div class="toolbar">
        <h2 class="view-title">Trace <span class="mono">${shown}</span></h2>
        ${shown !== traceId ? html`<span class="muted joined-from"><span class="mono">${traceId}</span> was joined into this trace</span>` : null}
        ${model?.startNs ? html`<span class="muted">${formatTimestamp(model.startNs)} · ${formatDuration(model.totalUs)} · ${model.rows.length} calls</span>` : null}
        <div class="controls">
          <a class="button" href=${formatRoute({ view: 'calls', filter: `trace_id == ${JSON.stringify(shown)}` })}>Show in stream</a>
          <button type="button" onClick=${() => setReload((n) => n + 1)}>Refresh</button>
        </div>
      </div>
      ${error ? html`<p class="notice error">${error}</p>` : null}
      ${model && model.rows.length === 0 ? html`<p class="empty">No calls recorded for this trace.</p>` : null}
      ${model && model.rows.length > 0
        ? html`<div class="waterfall" role="table" aria-label="Calls of the trace on a time axis">
            <div class="wf-row wf-axis" role="row">
              <div class="wf-label" role="columnheader">call</div>
              <div class="wf-track" role="columnheader">
                ${ticks.map((t) => html`<span class="tick" style=${{ left: `${(t / model.totalUs) * 100}%` }}>${formatDuration(t)}</span>`)}
              </div>
            </div>
            ${model.rows.map((row) => html`<${WaterfallRow} row=${row} totalUs=${model.totalUs} />`)}
          </div>
          <p class="legend muted"><span class="bar-swatch client"></span> caller's view (CLIENT) <span class="bar-swatch server"></span> callee's view (SERVER)</p>`
        : null}
      ${!model && !error ? html`<p class="muted">Loading…</p>` : null}
    </section>
  `;
}

/** @param {{ row: import('./waterfall.js').WaterfallRow, totalUs: number }} props */
function WaterfallRow({ row, totalUs }) {
  const call = row.call;
  const cls = statusClass(row.server ?? call);
  /** @param {{ offsetUs: number, durationUs: number }} bar */
  const pos = (bar) => ({ left: `${(bar.offsetUs / totalUs) * 100}%`, width: `${Math.max(0.3, (bar.durationUs / totalUs) * 100)}%` });
  return html`
    <div class=${`wf-row status-${cls}`} role="row" data-depth=${row.depth} data-key=${row.key}>
      <div class="wf-label" role="cell" style=${{ paddingLeft: `${8 + row.depth * 18}px` }}>
        ${row.depth > 0 ? html`<span class="wf-elbow" aria-hidden="true">└</span>` : null}
        <a href=${formatRoute({ view: 'calls', callId: call.id })} class="wf-call" title=${`${endpointName(call.src)} → ${endpointName(call.dst)} ${call.method ?? call.protocol}${call.path ? ` ${call.path}` : ''}`}>
          <span class="ep">${endpointName(call.src)}</span> → <span class="ep">${endpointName(call.dst)}</span>
          <span class="method">${call.method ?? call.protocol}</span> <span class="mono">${call.path ?? ''}</span>
        </a>
        <span class=${`status-pill ${cls}`}>${statusText(row.server ?? call)}</span>
        ${row.linkConfidence !== undefined && row.linkConfidence < 1
          ? html`<span class="wf-link muted" title=${`Linked to its parent by timing: ${Math.round(1 / row.linkConfidence)} requests were in flight in the caller, the most recent was chosen`}>≈ ${Math.round(row.linkConfidence * 100)}%</span>`
          : null}
      </div>
      <div class="wf-track" role="cell">
        ${row.clientBar
          ? html`<span class="wf-bar client" style=${pos(row.clientBar)} title=${`CLIENT (${endpointName(call.src)}'s sidecar): ${formatDuration(row.clientBar.durationUs)}`}></span>`
          : null}
        ${row.serverBar
          ? html`<span class=${`wf-bar server${row.clientBar ? ' paired' : ''}`} style=${pos(row.serverBar)} title=${`SERVER (${endpointName(call.dst)}'s sidecar): ${formatDuration(row.serverBar.durationUs)}${row.skewUs ? ` (clock skew: moved ${formatDuration(Math.abs(row.skewUs))} ${row.skewUs > 0 ? 'later' : 'earlier'} to sit inside the caller's view)` : ''}`}></span>`
          : null}
        <span class="wf-duration" style=${{ left: `calc(${((row.offsetUs + row.durationUs) / totalUs) * 100}% + 4px)` }}>${formatDuration(row.durationUs)}</span>
      </div>
    </div>
  `;
}

/** About five round tick values across the axis. */
function axisTicks(/** @type {number} */ totalUs) {
  const raw = totalUs / 5;
  const mag = 10 ** Math.floor(Math.log10(Math.max(1, raw)));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? mag * 10;
  const out = [];
  for (let t = 0; t <= totalUs; t += step) out.push(t);
  return out;
}
