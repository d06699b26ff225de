// What a decoded protocol's call said, in its own terms: gRPC messages on a timeline, a SQL
// statement with its parameters and result table, a Redis command and its reply, a WebSocket
// message with its direction and a link to the rest of its conversation, a DNS query with its
// response code and answers. The raw bodies stay
// below in the request and response cards.
import { html } from './html.js';
import { celString, formatBytes, formatDuration, grpcStatusName, parseGrpcTimeout } from './format.js';
import { formatRoute } from './router.js';

/**
 * @typedef {import('./types.js').CallJson} CallJson
 * @typedef {NonNullable<CallJson['request']>} MessageJson
 */

/** @param {MessageJson | undefined} m */
function bodyText(m) {
  return m?.body && 'text' in m.body ? m.body.text : undefined;
}

/** @param {string | undefined} text */
function parseJson(text) {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** @param {{ call: CallJson }} props */
export function ProtocolCard({ call }) {
  switch (call.protocol) {
    case 'grpc':
      return html`<${GrpcCard} call=${call} />`;
    case 'postgres':
    case 'mysql':
      return html`<${SqlCard} call=${call} />`;
    case 'redis':
      return html`<${RedisCard} call=${call} />`;
    case 'ws':
      return html`<${WebSocketCard} call=${call} />`;
    case 'dns':
      return html`<${DnsCard} call=${call} />`;
    default:
      return null;
  }
}

/**
 * @param {{ side: string, messages: Array<{ size: number, at_us?: number, compressed?: boolean, partial?: boolean, message?: unknown, raw?: string, error?: string }> }} props
 */
function GrpcMessages({ side, messages }) {
  return html`
    <h4>${side} <span class="muted">${messages.length} message${messages.length === 1 ? '' : 's'}</span></h4>
    <ol class="grpc-messages" data-side=${side.toLowerCase()}>
      ${messages.map(
        (m, i) => html`<li class="grpc-message" data-index=${i}>
          <div class="grpc-meta muted">
            #${i + 1}${m.at_us !== undefined ? html` · <span class="at">+${formatDuration(m.at_us)}</span>` : null} · ${formatBytes(m.size)}${m.compressed ? ' · compressed' : ''}${m.partial ? ' · cut by the capture limit' : ''}
          </div>
          ${m.error ? html`<p class="error-text">${m.error}</p>` : null}
          <pre class="mono grpc-json">${m.message !== undefined ? JSON.stringify(m.message, null, 2) : (m.raw ?? '')}</pre>
        </li>`,
      )}
    </ol>
  `;
}

/** @param {{ call: CallJson }} props */
function GrpcCard({ call }) {
  const req = parseJson(bodyText(call.request));
  const res = parseJson(bodyText(call.response));
  const code = call.grpc_status;
  // A message that only repeats the code's name ("0 OK — OK") is said once.
  const message = call.grpc_message && (code === undefined || call.grpc_message.trim().toUpperCase().replace(/[\s-]+/g, '_') !== grpcStatusName(code)) ? call.grpc_message : undefined;
  const timeout = call.request?.headers?.['grpc-timeout'];
  const timeoutUs = parseGrpcTimeout(timeout);
  return html`
    <section class="card protocol grpc" aria-label="gRPC">
      <h3>gRPC</h3>
      <dl class="kv">
        <dt>method</dt><dd class="mono">${call.path ?? '—'}</dd>
        <dt>status</dt><dd class=${code !== undefined && code !== 0 ? 'error-text' : ''}>${code === undefined ? '—' : grpcStatusName(code) === String(code) ? String(code) : `${code} ${grpcStatusName(code)}`}${message ? html` — <span class="grpc-status-message">${message}</span>` : null}</dd>
        ${timeout ? html`<dt>deadline</dt><dd class="grpc-deadline" title=${`grpc-timeout: ${timeout}`}>${timeoutUs !== undefined ? html`${formatDuration(timeoutUs)} <span class="muted mono">(grpc-timeout ${timeout})</span>` : html`<span class="mono">${timeout}</span>`}</dd>` : null}
      </dl>
      ${Array.isArray(req?.messages) ? html`<${GrpcMessages} side="Request" messages=${req.messages} />` : null}
      ${Array.isArray(res?.messages) ? html`<${GrpcMessages} side="Response" messages=${res.messages} />` : null}
    </section>
  `;
}

/** @param {{ call: CallJson }} props */
function SqlCard({ call }) {
  const req = parseJson(bodyText(call.request));
  const res = parseJson(bodyText(call.response));
  const rows = Array.isArray(res?.rows) ? res.rows : [];
  /** @type {string[]} */
  const columns = Array.isArray(res?.columns) ? res.columns : rows.length > 0 ? Object.keys(rows[0]) : [];
  const headers = call.response?.headers ?? {};
  return html`
    <section class="card protocol sql" aria-label="SQL">
      <h3>${call.protocol === 'mysql' ? 'MySQL' : 'PostgreSQL'} <span class="muted">${call.path ? `database ${call.path}` : ''}</span></h3>
      ${typeof req?.query === 'string' ? html`<pre class="mono sql-query">${req.query}</pre>` : null}
      ${Array.isArray(req?.parameters) && req.parameters.length > 0
        ? html`<h4>Parameters</h4><ol class="sql-parameters">${req.parameters.map((/** @type {unknown} */ p) => html`<li class="mono">${p === null ? 'NULL' : String(p)}</li>`)}</ol>`
        : null}
      ${headers.sqlstate ? html`<p class="error-text sql-error">${headers.severity ?? 'ERROR'} ${headers.sqlstate}${headers.code ? ` (${headers.code})` : ''}: ${headers.message ?? call.error_detail ?? ''}</p>` : null}
      ${columns.length > 0
        ? html`<h4>Result <span class="muted">${headers.rows ?? res?.row_count ?? rows.length} row${(headers.rows ?? String(rows.length)) === '1' ? '' : 's'}${rows.length < Number(headers.rows ?? rows.length) ? `, first ${rows.length} shown` : ''}</span></h4>
            <div class="sql-result-wrap"><table class="sql-result">
              <thead><tr>${columns.map((c) => html`<th scope="col" class="mono">${c}</th>`)}</tr></thead>
              <tbody>${rows.map((/** @type {Record<string, unknown>} */ r) => html`<tr>${columns.map((c) => html`<td class="mono">${r[c] === null || r[c] === undefined ? 'NULL' : String(r[c])}</td>`)}</tr>`)}</tbody>
            </table></div>`
        : headers.tag || res?.command
          ? html`<p class="mono sql-tag">${headers.tag ?? res?.command}</p>`
          : null}
    </section>
  `;
}

/** @param {{ call: CallJson }} props */
function RedisCard({ call }) {
  return html`
    <section class="card protocol redis" aria-label="Redis">
      <h3>Redis</h3>
      <pre class="mono redis-command">${bodyText(call.request) ?? call.method ?? ''}</pre>
      ${call.response ? html`<pre class=${`mono redis-reply ${call.error ? 'error-text' : ''}`}>${bodyText(call.response) ?? ''}</pre>` : html`<p class="muted">no reply</p>`}
    </section>
  `;
}

/** @param {{ call: CallJson }} props */
function WebSocketCard({ call }) {
  const fromClient = call.request !== undefined;
  const m = fromClient ? call.request : call.response;
  const conversation = formatRoute({ view: 'calls', filter: `ws && connection_id == ${celString(call.connection_id ?? '')}` });
  return html`
    <section class="card protocol ws" aria-label="WebSocket">
      <h3>WebSocket <span class="muted">${call.method ?? ''}</span></h3>
      <p class="ws-direction">${fromClient ? 'client → server' : 'server → client'} · ${formatBytes(m?.body_size ?? 0)}</p>
      <p><a class="ws-conversation" href=${conversation}>the whole conversation on this connection</a></p>
    </section>
  `;
}

/** Field orders of structured DNS data (SRV, MX, SOA, SVCB/HTTPS), as their presentation format writes them. */
const DNS_DATA_ORDERS = [
  ['priority', 'weight', 'port', 'target'],
  ['preference', 'exchange'],
  ['mname', 'rname', 'serial', 'refresh', 'retry', 'expire', 'minimum'],
  ['priority', 'target', 'params'],
];

/**
 * A record's data as `dig` prints it: an address or name as is, an SRV as `priority weight port
 * target`, TXT strings quoted (the collector's tap and spans read it the same way:
 * record/dns-answer.ts).
 * @param {unknown} data
 */
export function dnsDataText(data) {
  if (data === undefined || data === null) return '';
  if (Array.isArray(data)) return data.map((s) => JSON.stringify(String(s))).join(' ');
  if (typeof data !== 'object') return String(data);
  const fields = /** @type {Record<string, unknown>} */ (data);
  const keys = Object.keys(fields);
  const order = DNS_DATA_ORDERS.find((o) => o.length === keys.length && o.every((k) => k in fields)) ?? keys;
  return order.map((k) => fields[k]).filter((v) => ['string', 'number', 'boolean'].includes(typeof v)).map(String).join(' ');
}

/**
 * One section of a DNS response (answers, authority, additional) as a table.
 * @param {{ title: string, kind: string, records: unknown }} props
 */
function DnsRecords({ title, kind, records }) {
  if (!Array.isArray(records) || records.length === 0) return null;
  /** @type {Array<{ name?: unknown, type?: unknown, ttl?: unknown, data?: unknown }>} */
  const rows = records.filter((r) => typeof r === 'object' && r !== null);
  const cell = (/** @type {unknown} */ v) => (v === undefined || v === null ? '' : String(v));
  return html`
    <h4>${title} <span class="muted">${rows.length}</span></h4>
    <div class="sql-result-wrap"><table class="sql-result dns-records" data-section=${kind}>
      <thead><tr><th scope="col">name</th><th scope="col">type</th><th scope="col">TTL</th><th scope="col">data</th></tr></thead>
      <tbody>${rows.map((r) => html`<tr><td class="mono">${cell(r.name)}</td><td class="mono">${cell(r.type)}</td><td class="mono">${cell(r.ttl)}</td><td class="mono">${dnsDataText(r.data)}</td></tr>`)}</tbody>
    </table></div>
  `;
}

/** @param {{ call: CallJson }} props */
function DnsCard({ call }) {
  const req = parseJson(bodyText(call.request));
  const res = parseJson(bodyText(call.response));
  const rcode = call.dns_rcode ?? (typeof res?.rcode === 'string' ? res.rcode : undefined);
  const flags = res?.flags && typeof res.flags === 'object' ? Object.entries(res.flags).filter(([, v]) => v === true).map(([k]) => k) : [];
  return html`
    <section class="card protocol dns" aria-label="DNS">
      <h3>DNS <span class="muted">${typeof req?.transport === 'string' ? req.transport.toUpperCase() : ''}</span></h3>
      <dl class="kv">
        <dt>question</dt><dd class="mono dns-question">${call.method ?? ''} ${call.path ?? '—'}</dd>
        <dt>rcode</dt><dd class=${`dns-rcode ${rcode !== undefined && rcode !== 'NOERROR' ? 'error-text' : ''}`}>${rcode ?? (call.error ? `no answer (${call.error})` : '—')}</dd>
        ${flags.length > 0 ? html`<dt>flags</dt><dd class="mono dns-flags">${flags.join(' ')}</dd>` : null}
        ${call.dst?.ip ? html`<dt>resolver</dt><dd class="mono">${call.dst.ip}${call.dst.port ? `:${call.dst.port}` : ''}</dd>` : null}
      </dl>
      <${DnsRecords} title="Answers" kind="answers" records=${res?.answers} />
      ${res && Array.isArray(res.answers) && res.answers.length === 0 ? html`<p class="muted dns-no-answers">no answers</p>` : null}
      <${DnsRecords} title="Authority" kind="authority" records=${res?.authority} />
      <${DnsRecords} title="Additional" kind="additional" records=${res?.additional} />
    </section>
  `;
}
