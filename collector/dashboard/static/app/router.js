// Hash routes: #/calls, #/calls/<id>, #/map (?window=1h: its time window), #/offenders, #/coverage, #/trace/<id>; the stream's filter rides along
// as ?filter= so a link (from a map edge, or pasted in a chat at 3 AM) opens the same view.
import { TIME_WINDOWS } from './time-windows.js';

/**
 * @typedef {{ view: 'calls', callId?: string, filter?: string } | { view: 'map', window?: string } | { view: 'offenders' } | { view: 'coverage' } | { view: 'trace', traceId: string } | { view: 'not-found', hash: string }} Route
 */

/**
 * @param {string} hash location.hash, with or without the leading '#'
 * @returns {Route}
 */
export function parseRoute(hash) {
  const raw = hash.replace(/^#/, '');
  const q = raw.indexOf('?');
  const path = q === -1 ? raw : raw.slice(0, q);
  const params = new URLSearchParams(q === -1 ? '' : raw.slice(q + 1));
  const parts = path.split('/').filter((p) => p !== '').map(safeDecode);
  const filter = params.get('filter') ?? undefined;
  if (parts.length === 0 || (parts[0] === 'calls' && parts.length === 1)) return { view: 'calls', filter };
  if (parts[0] === 'calls' && parts.length === 2) return { view: 'calls', callId: parts[1], filter };
  if (parts[0] === 'map' && parts.length === 1) {
    // One of the map's windows (its label, as on its button); anything else is the default.
    const window = params.get('window') ?? undefined;
    return window !== undefined && TIME_WINDOWS.some(([label]) => label === window) ? { view: 'map', window } : { view: 'map' };
  }
  if (parts[0] === 'offenders' && parts.length === 1) return { view: 'offenders' };
  if (parts[0] === 'coverage' && parts.length === 1) return { view: 'coverage' };
  if (parts[0] === 'trace' && parts.length === 2) return { view: 'trace', traceId: parts[1] };
  // Shown on the page ("Nothing at #…"): a token in it (a mangled login link) is not.
  return { view: 'not-found', hash: raw.replace(/(^|[?&/])token=[^&]*/g, '$1token=…') };
}

/** @param {string} s */
function safeDecode(s) {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/**
 * @param {Route} route
 * @returns {string} a hash beginning with '#'
 */
export function formatRoute(route) {
  if (route.view === 'map') return route.window ? `#/map?${new URLSearchParams({ window: route.window })}` : '#/map';
  if (route.view === 'offenders') return '#/offenders';
  if (route.view === 'coverage') return '#/coverage';
  if (route.view === 'trace') return `#/trace/${encodeURIComponent(route.traceId)}`;
  if (route.view === 'calls') {
    const base = route.callId ? `#/calls/${encodeURIComponent(route.callId)}` : '#/calls';
    return route.filter ? `${base}?${new URLSearchParams({ filter: route.filter })}` : base;
  }
  return `#${route.hash}`;
}
