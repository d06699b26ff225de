// One call in full: headers, bodies, timing, both identities, TLS, what was masked. The call's
// two observations (the client sidecar's and the server sidecar's records) are tabs; above them,
// the joined call and where its time went.
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import { html } from './html.js';
import { getCall, listCalls } from './api.js';
import { callFilter } from './call-rows.js';
import { openedFrom } from './call-lookup.js';
import { callEnds, identityRows, seenByText } from './call-detail.js';
import { CallTimeline } from './call-timeline.js';
import {
  bodyView,
  diffUs,
  endpointName,
  formatBytes,
  formatDuration,
  formatTimestamp,
  isRedactedHeader,
  statusClass,
  statusCode,
  statusText,
} from './format.js';
import { formatRoute, parseRoute } from './router.js';
import { LockIcon } from './icons.js';
import { CopyButton } from './copy-button.js';
import { ProtocolCard } from './protocol-view.js';

/**
 * @typedef {import('./types.js').CallJson} CallJson
 */

/**
 * @param {{ id: string, initial?: CallJson, filter?: string }} props
 */
export function DetailPanel({ id, initial, filter }) {
  const [record, setRecord] = useState(/** @type {CallJson | undefined} */ (initial));
  const [error, setError] = useState(/** @type {string | undefined} */ (undefined));
  /** The joined call (`view=call`): both observations and its timing; undefined until loaded. */
  const [joined, setJoined] = useState(/** @type {any} */ (undefined));
  /** Which observation the tabs show; the opened record's side until one is chosen. */
  const [side, setSide] = useState(/** @type {'client' | 'server' | undefined} */ (undefined));
  /** @type {import('preact').RefObject<HTMLElement>} */
  const panel = useRef(null);
  const closeHref = formatRoute({ view: 'calls', filter: filter || undefined });

  useEffect(() => {
    const controller = new AbortController();
    setRecord(initial);
    setError(undefined);
    setJoined(undefined);
    setSide(undefined);
    getCall(id, controller.signal)
      .then(async (r) => {
        if (!r.ok) {
          setError(r.error.message);
          return;
        }
        const opened = openedFrom(r.value?.call);
        if (opened === undefined) {
          setError(`no call in the collector's answer for ${JSON.stringify(id)}`);
          return;
        }
        setRecord(opened.record);
        // A call id answers the call itself: its records are the observations, nothing to look up.
        if (opened.joined !== undefined) {
          setJoined(opened.joined);
          return;
        }
        const calls = await listCalls({ view: 'call', limit: 1, filter: callFilter(opened.record) }, controller.signal);
        if (calls.ok && Array.isArray(calls.value?.calls) && calls.value.calls.length > 0) setJoined(calls.value.calls[0]);
      })
      .catch(() => {});
    return () => controller.abort();
  }, [id]);

  // Attached as the panel is put in the page, before it is painted: an Escape pressed the moment
  // the panel shows (a passive effect runs a frame later) still closes it.
  useLayoutEffect(() => {
    /** @param {KeyboardEvent} e */
    const onKey = (e) => {
      if (e.key !== 'Escape' || e.defaultPrevented) return;
      // One Escape does one thing: it closes the panel, and the filter box's own Escape (a
      // search field empties itself) does not also run. The filter is the one applied now.
      e.preventDefault();
      const current = parseRoute(location.hash);
      location.hash = formatRoute({ view: 'calls', filter: current.view === 'calls' ? current.filter : filter || undefined });
    };
    addEventListener('keydown', onKey);
    return () => removeEventListener('keydown', onKey);
  }, [filter]);

  useEffect(() => panel.current?.focus(), [id]);

  const opened = record?.observer === 'inbound' ? 'server' : 'client';
  const shown = side ?? opened;
  /** @type {CallJson | undefined} */
  const call = (joined && joined[shown]) ?? record;
  return html`
    <aside class="detail" aria-label="Call detail" tabindex="-1" ref=${panel}>
      <header class="detail-head">
        <a class="close" href=${closeHref} aria-label="Close detail">✕</a>
        ${call ? html`<${Summary} call=${call} joined=${joined} />` : html`<h2>Call ${id}</h2>`}
      </header>
      ${error ? html`<p class="notice error">${error}</p>` : null}
      ${call && joined ? html`<${CallOverview} joined=${joined} shown=${shown} onSide=${setSide} />` : null}
      ${call ? html`<${DetailBody} key=${call.id} call=${call} joined=${joined} />` : !error ? html`<p class="muted">Loading…</p>` : null}
    </aside>
  `;
}

/**
 * The call as a whole: which sidecars saw it (a tab per observation), the joined fields, the timeline.
 * @param {{ joined: any, shown: 'client' | 'server', onSide: (s: 'client' | 'server') => void }} props
 */
function CallOverview({ joined, shown, onSide }) {
  const sides = /** @type {const} */ (['client', 'server']);
  // In the words of the list and the header (the joined fields are the client record's first).
  const status = statusCode(joined.client ?? joined.server ?? joined);
  return html`
    <section class="card call-overview" aria-label="Call">
      <h3>
        Call${' '}
        ${joined.one_sided
          ? html`<span class="side-badge" title="only one sidecar's record of this call was found">${joined.one_sided}-only</span>`
          : html`<span class="muted">seen by both sidecars</span>`}
      </h3>
      <div class="tabs" role="tablist" aria-label="Observations">
        ${sides.map((s) => {
          const r = joined[s];
          return html`<button type="button" role="tab" data-side=${s} aria-selected=${shown === s ? 'true' : 'false'} disabled=${!r} onClick=${() => onSide(s)}
            title=${r ? `the ${s} sidecar's record ${r.id}` : `no ${s} observation`}>${s === 'client' ? 'Client observation' : 'Server observation'}${r ? ` · ${formatDuration(r.elapsed_us)}` : ' · none'}</button>`;
        })}
      </div>
      <dl class="kv joined">
        <dt>call</dt><dd class="mono">${joined.id}</dd>
        ${status !== undefined ? html`<dt>status</dt><dd class="call-status">${status}</dd>` : null}
        ${joined.error ? html`<dt>error</dt><dd class="error-text">${joined.error}</dd>` : null}
        ${(joined.client ?? joined.server)?.attempt > 1
          ? html`<dt>attempt</dt><dd>${(joined.client ?? joined.server).attempt} (retry of <a class="mono" href=${formatRoute({ view: 'calls', callId: (joined.client ?? joined.server).first_attempt_id })}>${(joined.client ?? joined.server).first_attempt_id}</a>)${(joined.client ?? joined.server).retry_after_honoured === false ? ' · did not wait as Retry-After asked' : (joined.client ?? joined.server).retry_after_honoured === true ? ' · waited as Retry-After asked' : ''}</dd>`
          : null}
      </dl>
      <${CallTimeline} call=${joined} />
    </section>
  `;
}

/**
 * The header: what the call was, between whom, and which sidecars saw it, as the panel below says;
 * its call and trace ids, each with a button that copies it.
 * @param {{ call: CallJson, joined?: import('./call-detail.js').JoinedJson }} props
 */
function Summary({ call, joined }) {
  const cls = statusClass(call);
  const ends = callEnds(call, joined);
  return html`
    <h2 class="detail-title">
      <span class="method">${call.method ?? call.protocol}</span>
      <span class="mono path" title=${call.path || undefined}>${call.path ?? ''}</span>
      <span class=${`status-pill ${cls}`}>${statusText(call)}</span>
    </h2>
    <p class="detail-sub">
      <strong>${endpointName(ends.src)}</strong> → <strong>${endpointName(ends.dst)}</strong>${' '}
      · ${formatDuration(call.elapsed_us)} · ${call.protocol} · <span class="seen-by">${seenByText(call, joined)}</span>
      ${call.tls?.mesh ? html` · <${LockIcon} /> mesh mTLS` : null}
    </p>
    <p class="detail-ids">
      <span class="detail-id">call <code class="mono">${joined?.id ?? call.id}</code> <${CopyButton} text=${joined?.id ?? call.id} what="call id" /></span>
      ${call.trace_id ? html`<span class="detail-id">trace <code class="mono">${call.trace_id}</code> <${CopyButton} text=${call.trace_id} what="trace id" /></span>` : null}
    </p>
  `;
}

/** @param {{ call: CallJson, joined?: import('./call-detail.js').JoinedJson }} props */
function DetailBody({ call, joined }) {
  const masked = (call.redacted?.length ?? 0) > 0 || (call.sensitive?.length ?? 0) > 0;
  return html`
    <div class="detail-body">
      ${call.error
        ? html`<section class="card error-card" aria-label="Error"><h3>Error</h3><p><strong>${call.error}</strong>${call.error_detail ? ` — ${call.error_detail}` : ''}${call.close_reason ? ` (connection ${call.close_reason})` : ''}</p></section>`
        : null}
      ${masked ? html`<${Masking} call=${call} />` : null}
      <${Timing} call=${call} />
      <${ProtocolCard} call=${call} />
      ${call.request ? html`<${Message} title="Request" side="request" message=${call.request} call=${call} />` : null}
      ${call.response ? html`<${Message} title="Response" side="response" message=${call.response} call=${call} />` : null}
      <${Identities} call=${call} joined=${joined} />
      <${Tls} call=${call} />
      <section class="card" aria-label="Connection">
        <h3>Connection</h3>
        <dl class="kv">
          <dt>call id</dt><dd class="mono">${call.id}</dd>
          <dt>connection</dt><dd class="mono">${call.connection_id} #${call.ordinal}</dd>
          ${call.authority ? html`<dt>authority</dt><dd class="mono">${call.authority}</dd>` : null}
          <dt>bytes</dt><dd>${formatBytes(call.bytes_out)} out, ${formatBytes(call.bytes_in)} in</dd>
          ${call.trace_id
            ? html`<dt>trace</dt><dd><a class="trace-link mono" href=${formatRoute({ view: 'trace', traceId: call.trace_id })}>${call.trace_id}</a></dd>`
            : null}
          ${call.parent_span_id ? html`<dt>parent span</dt><dd class="mono">${call.parent_span_id}</dd>` : null}
        </dl>
      </section>
      <details class="card raw">
        <summary>Raw JSON</summary>
        <pre class="mono">${JSON.stringify(call, null, 2)}</pre>
      </details>
    </div>
  `;
}

/** @param {{ call: CallJson }} props */
function Masking({ call }) {
  return html`
    <section class="card masking" aria-label="Masked data">
      <h3>Masked before leaving the pod</h3>
      ${call.redacted?.length
        ? html`<ul class="redacted-list">${call.redacted.map((p) => html`<li><span class="mask-badge">masked</span> <code>${p}</code></li>`)}</ul>`
        : html`<p class="muted">No values were masked.</p>`}
      ${call.sensitive?.length
        ? html`<p>Detected: ${call.sensitive.map((s) => html`<span class="chip sensitive">${s}</span> `)}</p>`
        : null}
    </section>
  `;
}

/** @param {{ call: CallJson }} props */
function Timing({ call }) {
  const total = diffUs(call.end, call.start) ?? call.elapsed_us ?? 0;
  const points = [
    ['start', call.start],
    ['request end', call.request_end],
    ['response start', call.response_start],
    ['end', call.end],
  ].filter((p) => p[1] !== undefined);
  /** @param {string | undefined} ns */
  const pct = (ns) => (total > 0 ? Math.min(100, Math.max(0, ((diffUs(ns, call.start) ?? 0) / total) * 100)) : 0);
  const reqEnd = call.request_end ?? call.start;
  const respStart = call.response_start ?? reqEnd;
  return html`
    <section class="card" aria-label="Timing">
      <h3>Timing <span class="muted">${formatDuration(call.elapsed_us)}</span></h3>
      <div class="phase-bar" role="img" aria-label="request, wait, response phases">
        <span class="phase request" style=${{ left: '0%', width: `${pct(reqEnd)}%` }} title="sending request"></span>
        <span class="phase wait" style=${{ left: `${pct(reqEnd)}%`, width: `${pct(respStart) - pct(reqEnd)}%` }} title="waiting for the response"></span>
        <span class="phase response" style=${{ left: `${pct(respStart)}%`, width: `${100 - pct(respStart)}%` }} title="receiving response"></span>
      </div>
      <table class="timing">
        <tbody>
          ${points.map(
            ([label, ns]) => html`<tr><th scope="row">${label}</th><td class="mono">${formatTimestamp(ns)}</td><td class="mono num">+${formatDuration(diffUs(ns, call.start))}</td></tr>`,
          )}
          <tr><th scope="row">elapsed</th><td class="mono" colspan="2">${formatDuration(call.elapsed_us)}</td></tr>
        </tbody>
      </table>
    </section>
  `;
}

/**
 * @param {{ title: string, side: 'request' | 'response', message: NonNullable<CallJson['request']>, call: CallJson }} props
 */
function Message({ title, side, message, call }) {
  const headers = Object.entries(message.headers ?? {});
  const captured = message.body ? ('text' in message.body ? new TextEncoder().encode(message.body.text).length : Math.floor((message.body.base64.length * 3) / 4)) : 0;
  const view = bodyView(message.body, message.content_type ?? message.headers?.['content-type']);
  return html`
    <section class="card message" aria-label=${title} data-side=${side}>
      <h3>${title}</h3>
      <table class="headers">
        <tbody>
          ${headers.length === 0 ? html`<tr><td class="muted">no headers</td></tr>` : null}
          ${headers.map(([name, value]) => {
            const redacted = isRedactedHeader(call.redacted, side, name);
            return html`<tr class=${redacted ? 'redacted' : ''} data-header=${name}>
              <th scope="row" class="mono">${name}</th>
              <td class="mono">${value}${redacted ? html` <span class="mask-badge" title="value masked by the sidecar">masked</span>` : null}</td>
            </tr>`;
          })}
        </tbody>
      </table>
      ${message.trailers && Object.keys(message.trailers).length
        ? html`<h4>Trailers</h4><table class="headers"><tbody>${Object.entries(message.trailers).map(([n, v]) => html`<tr><th scope="row" class="mono">${n}</th><td class="mono">${v}</td></tr>`)}</tbody></table>`
        : null}
      <h4>
        Body
        <span class="muted body-meta">
          ${formatBytes(message.body_size)}${message.truncated ? html` · <span class="chip warn">truncated: ${formatBytes(captured)} captured</span>` : null}
          ${message.content_type ? ` · ${message.content_type}` : ''}${message.content_encoding ? ` · ${message.content_encoding}` : ''}
        </span>
      </h4>
      ${view.kind === 'empty'
        ? html`<p class="muted">empty</p>`
        : view.kind === 'binary'
          ? html`<pre class="body binary mono" data-kind="binary">${view.hex}</pre>`
          : html`<pre class=${`body mono ${view.kind}`} data-kind=${view.kind}>${highlightMasks(view.text)}</pre>`}
    </section>
  `;
}

/** Marks the sidecar's mask strings so masked values stand out in a body. */
function highlightMasks(/** @type {string} */ text) {
  const parts = text.split(/(\*{4}[0-9]{0,4})/);
  if (parts.length === 1) return text;
  return parts.map((p, i) => (i % 2 === 1 ? html`<mark class="masked-value" title="masked by the sidecar">${p}</mark>` : p));
}

/**
 * Both ends of the call; for a call both sidecars saw, each end as the sidecar beside it saw it.
 * @param {{ call: CallJson, joined?: import('./call-detail.js').JoinedJson }} props
 */
function Identities({ call, joined }) {
  const { rows, both } = identityRows(call, joined);
  return html`
    <section class="card" aria-label="Identities">
      <h3>Identities</h3>
      <table class="identities">
        <thead>
          <tr>
            <th></th>
            <th scope="col" title=${both ? "as the client's sidecar saw it" : undefined}>source${both ? html` <span class="muted side-note">(client side)</span>` : null}</th>
            <th scope="col" title=${both ? "as the server's sidecar saw it" : undefined}>destination${both ? html` <span class="muted side-note">(server side)</span>` : null}</th>
          </tr>
        </thead>
        <tbody>
          ${rows.map((r) =>
            r.key === 'identity'
              ? html`<tr data-row=${r.key}><th scope="row">${r.label}</th><td class="mono identity">${breakAtSlashes(r.src)}</td><td class="mono identity">${breakAtSlashes(r.dst)}</td></tr>`
              : html`<tr data-row=${r.key}><th scope="row">${r.label}</th><td class="mono" title=${r.srcTitle}>${r.src}</td><td class="mono" title=${r.dstTitle}>${r.dst}</td></tr>`,
          )}
        </tbody>
      </table>
    </section>
  `;
}

/**
 * An identity (`spiffe://cluster.local/ns/shop/sa/web`) that may wrap only after a `/` (not
 * inside `//`), never inside a name (not even at its hyphens).
 * @param {string} value
 */
function breakAtSlashes(value) {
  return value.split(/(?<=\/)(?!\/)/).map((part, i) => html`${i === 0 ? null : html`<wbr />`}<span class="unbroken">${part}</span>`);
}

/** @param {{ call: CallJson }} props */
function Tls({ call }) {
  const app = call.tls?.app_tls;
  return html`
    <section class="card" aria-label="TLS">
      <h3>TLS</h3>
      <dl class="kv">
        <dt>mesh</dt><dd>${call.tls?.mesh ? html`<${LockIcon} /> meshtap mTLS between the sidecars` : 'plaintext between the sidecars'}</dd>
        ${app
          ? html`<dt>app TLS</dt><dd>${app.version ?? '?'} ${app.cipher ?? ''}</dd>
              <dt>SNI</dt><dd class="mono">${app.sni ?? '—'}</dd>
              <dt>ALPN</dt><dd class="mono">${app.alpn?.join(', ') || '—'}</dd>
              ${app.handshake_us !== undefined ? html`<dt>handshake</dt><dd>${formatDuration(app.handshake_us)}</dd>` : null}
              ${app.error ? html`<dt>error</dt><dd class="error-text">${app.error}</dd>` : null}`
          : html`<dt>app TLS</dt><dd class="muted">none</dd>`}
      </dl>
    </section>
  `;
}
