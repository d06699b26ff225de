/** Hash routes of the dashboard. */
import t from 'tap';
import { loadBrowserModule } from './browser-modules.ts';

const r = await loadBrowserModule('router.js');

void t.test('parses every route, filter included', async (t) => {
  t.same(r.parseRoute(''), { view: 'calls', filter: undefined });
  t.same(r.parseRoute('#/calls'), { view: 'calls', filter: undefined });
  t.same(r.parseRoute('#/calls?filter=status_code+%3E%3D+500'), { view: 'calls', filter: 'status_code >= 500' });
  t.same(r.parseRoute('#/calls/rec%2F1?filter=http'), { view: 'calls', callId: 'rec/1', filter: 'http' });
  t.same(r.parseRoute('#/map'), { view: 'map' });
  t.same(r.parseRoute('#/map?window=1h'), { view: 'map', window: '1h' });
  t.same(r.parseRoute('#/map?window=2y'), { view: 'map' }, 'an unknown window: the default');
  t.equal(r.formatRoute({ view: 'map', window: '24h' }), '#/map?window=24h');
  t.same(r.parseRoute('#/coverage'), { view: 'coverage' });
  t.same(r.parseRoute('#/trace/4bf92f3577b34da6a3ce929d0e0e4736'), { view: 'trace', traceId: '4bf92f3577b34da6a3ce929d0e0e4736' });
  t.same(r.parseRoute('#/nope/x'), { view: 'not-found', hash: '/nope/x' });
  t.same(r.parseRoute('#token=secret-1&x'), { view: 'not-found', hash: 'token=…&x' }, 'a token is never part of what the page shows');
  t.same(r.parseRoute('#/calls/%E0%A4%A'), { view: 'calls', callId: '%E0%A4%A', filter: undefined }, 'a broken escape is kept as is');
});

void t.test('formats routes that parse back to themselves', async (t) => {
  for (const route of [
    { view: 'calls', filter: undefined },
    { view: 'calls', callId: 'a b/c', filter: 'path == "/x?y=1&z"' },
    { view: 'map' },
    { view: 'coverage' },
    { view: 'trace', traceId: 'abc' },
  ]) {
    t.same(r.parseRoute(r.formatRoute(route)), route);
  }
  t.equal(r.formatRoute({ view: 'calls', filter: '' }), '#/calls');
});
