// The dashboard's entry: hash routing between the stream (with a call's detail), the service
// map and a trace; one live call feed shared by every visit to the stream.
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { html } from './html.js';
import { NOT_SIGNED_IN, getSession, isLoginFragment, listCalls, loginFromFragment, offersSignOut, signOut, streamUrl } from './api.js';
import { celString } from './format.js';
import { createCallFeed } from './call-feed.js';
import { DetailPanel } from './detail-view.js';
import { openedRecord } from './call-lookup.js';
import { MapView } from './map-view.js';
import { OffendersView } from './offenders-view.js';
import { CoverageView } from './coverage-view.js';
import { parseRoute } from './router.js';
import { StreamView, feedView } from './stream-view.js';
import { TraceView } from './trace-view.js';

/** The server's newest-first page size limit. */
const INITIAL_PAGE = 1000;

const feed = createCallFeed({
  view: feedView(),
  // One row per call: the calls (both records of each, when either matched); per observation: the records.
  list: (filter, view) => listCalls({ filter: filter || undefined, limit: INITIAL_PAGE, view }),
  // The calls of live records whose partner did not come on the stream (it may not match the filter).
  lookup: (recordIds) => listCalls({ view: 'call', filter: `id in [${recordIds.map(celString).join(', ')}]`, limit: recordIds.length }),
  stream(filter, handlers) {
    const source = new EventSource(streamUrl(filter || undefined));
    source.addEventListener('call', (event) => {
      try {
        const data = JSON.parse(/** @type {MessageEvent} */ (event).data);
        handlers.onCall(data && typeof data === 'object' && data.call && typeof data.call === 'object' ? data.call : data);
      } catch {
        // A malformed event is skipped; the next one may be fine.
      }
    });
    source.onopen = () => handlers.onOpen();
    source.onerror = () => {
      handlers.onError();
      // The browser gave up: the collector answered the reconnection with an error, not a
      // stream (a dropped connection is retried, still CONNECTING). The status is not visible
      // here; a 401 to the session check is a session that ended under the page.
      if (source.readyState !== EventSource.CLOSED) return;
      void getSession().then((r) => {
        if (!r.ok && r.status === 401) handlers.onUnauthenticated(r.error.message);
      });
    };
    return { close: () => source.close() };
  },
});

function App() {
  const [route, setRoute] = useState(() => parseRoute(location.hash));
  // Sign out is offered once the collector says there is a session to end (not with `--auth
  // none`, nor behind a proxy that adds the credentials): see `offersSignOut`.
  const [signOutOffered, setSignOutOffered] = useState(false);
  useEffect(() => {
    void sessionAtLoad.then((r) => setSignOutOffered(offersSignOut(r)));
  }, []);
  useEffect(() => {
    const onHash = () => {
      // A login link pasted into this tab changes only the fragment: it signs in as at load.
      if (isLoginFragment(location.hash)) {
        void signIn().then(async () => {
          setRoute(parseRoute(location.hash));
          setSignOutOffered(offersSignOut(await getSession()));
        });
      } else setRoute(parseRoute(location.hash));
    };
    addEventListener('hashchange', onHash);
    return () => removeEventListener('hashchange', onHash);
  }, []);
  useEffect(() => {
    if (route.view === 'calls' && feed.state.version === 0) void feed.setFilter(route.filter ?? '');
  }, [route]);
  useEffect(() => {
    document.title = route.view === 'map' ? 'Service map · meshtap' : route.view === 'offenders' ? 'Worst offenders · meshtap' : route.view === 'coverage' ? 'Coverage · meshtap' : route.view === 'trace' ? `Trace ${route.traceId.slice(0, 8)} · meshtap` : 'Calls · meshtap';
  }, [route]);

  // Bumped on sign-out: a view other than the calls' (whose feed is stopped) is built again, so
  // it asks once more and shows the 401's notice.
  const [signedOutAt, setSignedOutAt] = useState(0);
  const [signOutError, setSignOutError] = useState(/** @type {string | undefined} */ (undefined));
  const onSignOut = async () => {
    const result = await signOut();
    setSignOutError(result.message);
    if (!result.ok) return;
    feed.stop(NOT_SIGNED_IN);
    setSignedOutAt((n) => n + 1);
  };

  const current = route.view === 'calls' ? 'calls' : route.view;
  return html`
    <header class="app-header">
      <a class="brand" href="#/calls"><img src="favicon.svg" alt="" width="22" height="22" /> meshtap</a>
      <nav aria-label="Views">
        <a href="#/calls" aria-current=${current === 'calls' ? 'page' : undefined}>Calls</a>
        <a href="#/map" aria-current=${current === 'map' ? 'page' : undefined}>Service map</a>
        <a href="#/offenders" aria-current=${current === 'offenders' ? 'page' : undefined}>Offenders</a>
        <a href="#/coverage" aria-current=${current === 'coverage' ? 'page' : undefined}>Coverage</a>
      </nav>
      <span class="header-end">
        ${signOutOffered && signOutError ? html`<span class="sign-out-error error-text" role="alert">${signOutError}</span>` : null}
        ${signOutOffered ? html`<button type="button" class="sign-out" onClick=${onSignOut}>Sign out</button>` : null}
      </span>
    </header>
    <main id="main" class=${`view-${route.view}`} key=${route.view === 'calls' ? 0 : signedOutAt}>
      ${route.view === 'calls'
        ? html`<div class=${`calls-layout${route.callId ? ' with-detail' : ''}`}>
            <${StreamView} feed=${feed} selectedId=${route.callId} routeFilter=${route.filter} />
            ${route.callId
              ? html`<${DetailPanel} key=${route.callId} id=${route.callId} initial=${openedRecord(feed.state.calls, route.callId)} filter=${route.filter} />`
              : null}
          </div>`
        : route.view === 'map'
          ? html`<${MapView} window=${route.window} />`
          : route.view === 'offenders'
            ? html`<${OffendersView} />`
          : route.view === 'coverage'
            ? html`<${CoverageView} />`
          : route.view === 'trace'
            ? html`<${TraceView} traceId=${route.traceId} />`
            : html`<p class="empty">Nothing at <code>#${route.hash}</code>. <a href="#/calls">Back to the calls</a>.</p>`}
    </main>
  `;
}

/**
 * Trades a login link's token (#token=…) for a session cookie; the fragment leaves the address
 * bar and history (the entry becomes #/calls) before the collector is asked. A feed already
 * started lists again, with the session or with why there is none.
 */
async function signIn() {
  const login = await loginFromFragment();
  if (!login.ok) console.warn(login.message);
  const route = parseRoute(location.hash);
  if (feed.state.version > 0) void feed.setFilter((route.view === 'calls' && route.filter) || '', { force: true });
}

// At load, before anything is fetched; then how the collector sees the page (Sign out or not).
await signIn();
const sessionAtLoad = getSession();
const root = document.getElementById('app');
if (root) render(html`<${App} />`, root);
