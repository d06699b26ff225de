/**
 * The service map and coverage views in Debian's Chromium against a real collector fed over
 * gRPC: namespaces drawn as boxes holding their workloads, edge labels that never overlap
 * (measured on the rendered page), hover and click details, dashed cross-node edges, a hot
 * replica, the map laid out for 700 and 1280 px windows (readable scale, nothing cut off), and
 * the coverage panel's sentences and table, over the same time windows as the map.
 */
import t, { type Test } from 'tap';
import type { CallRecord, Endpoint } from '../../record/record.ts';
import { openBrowser, startDashboardBackend, waitFor, type BrowserSession, type DashboardBackend } from './harness.ts';

type Box = { x: number; y: number; width: number; height: number };
const overlap = (a: Box, b: Box) => a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;
const inside = (a: Box, b: Box) => a.x >= b.x - 0.5 && a.y >= b.y - 0.5 && a.x + a.width <= b.x + b.width + 0.5 && a.y + a.height <= b.y + b.height + 0.5;

const W: Record<string, Partial<Endpoint> & { ip: string }> = {
  loadgen: { ip: '10.244.0.20', namespace: 'shop', workload: 'loadgen', pod: 'loadgen-1', node: 'lab' },
  frontend: { ip: '10.244.0.21', namespace: 'shop', workload: 'frontend', pod: 'frontend-1', node: 'lab' },
  gateway: { ip: '10.244.0.22', namespace: 'shop', workload: 'gateway', pod: 'gateway-1', node: 'lab' },
  auth: { ip: '10.244.0.23', namespace: 'shop', workload: 'auth', pod: 'auth-1', node: 'lab' },
  catalog: { ip: '10.244.0.24', namespace: 'shop', workload: 'catalog', pod: 'catalog-1', node: 'lab-2' },
  orders: { ip: '10.244.0.25', namespace: 'shop', workload: 'orders', pod: 'orders-1', node: 'lab' },
  inventory: { ip: '10.244.0.26', namespace: 'shop', workload: 'inventory', pod: 'inventory-1', node: 'lab' },
  redis: { ip: '10.244.0.30', namespace: 'infra', workload: 'redis', pod: 'redis-0', node: 'lab' },
  postgres: { ip: '10.244.0.31', namespace: 'infra', workload: 'postgres', pod: 'postgres-0', node: 'lab' },
  legacy: { ip: '10.244.0.40', namespace: 'legacy', workload: 'legacy-client', pod: 'legacy-client-1', node: 'lab' },
};
const PAYMENT_PODS = [
  { ip: '10.244.0.50', pod: 'payment-a', node: 'lab-2' },
  { ip: '10.244.0.51', pod: 'payment-b', node: 'lab' },
  { ip: '10.244.0.52', pod: 'payment-c', node: 'lab' },
];

let n = 0;
function record(baseNs: bigint, observer: 'outbound' | 'inbound', conn: string, src: Partial<Endpoint> & { ip: string }, dst: Partial<Endpoint> & { ip: string }, over: Partial<CallRecord> = {}): CallRecord {
  const start = baseNs + BigInt(n++) * 1_000_000n;
  return {
    id: `map-${n}`,
    protocol: 'http',
    observer,
    connection_id: conn,
    ordinal: 0,
    start,
    end: start + 2_000_000n,
    elapsed_us: 2000,
    src: { port: 40000, ...src },
    dst: { port: 8080, ...dst },
    tls: { mesh: over.tls?.mesh ?? true },
    method: 'GET',
    path: '/x',
    status_code: 200,
    bytes_in: 10,
    bytes_out: 20,
    redacted: [],
    sensitive: [],
    ...over,
  };
}

/** A meshed call: the caller's outbound record and the callee's inbound twin. */
function meshed(baseNs: bigint, from: string, to: Partial<Endpoint> & { ip: string }, over: Partial<CallRecord> = {}): CallRecord[] {
  const conn = `c-${n}`;
  return [record(baseNs, 'outbound', conn, W[from], to, over), record(baseNs, 'inbound', conn, { ip: W[from].ip }, to, over)];
}

function dataset(baseNs: bigint): CallRecord[] {
  const out: CallRecord[] = [];
  const pairs: Array<[string, string]> = [
    ['loadgen', 'frontend'],
    ['frontend', 'gateway'],
    ['gateway', 'auth'],
    ['gateway', 'catalog'],
    ['gateway', 'orders'],
    ['gateway', 'inventory'],
    ['frontend', 'catalog'],
    ['catalog', 'redis'],
    ['auth', 'redis'],
    ['inventory', 'redis'],
    ['orders', 'postgres'],
  ];
  for (const [from, to] of pairs) for (let i = 0; i < 3; i++) out.push(...meshed(baseNs, from, W[to]));
  // gateway → payment: 10 calls, 8 answered by payment-a (hot, on lab-2: cross-node), one 503.
  for (let i = 0; i < 10; i++) {
    const pod = PAYMENT_PODS[i < 8 ? 0 : i - 7];
    out.push(...meshed(baseNs, 'gateway', { ...pod, namespace: 'shop', workload: 'payment' }, i === 3 ? { status_code: 503 } : {}));
  }
  out.push(...meshed(baseNs, 'orders', { ...PAYMENT_PODS[1], namespace: 'shop', workload: 'payment' }));
  // An unmeshed client: only frontend's sidecar saw these, without mesh TLS.
  for (let i = 0; i < 2; i++) out.push(record(baseNs, 'inbound', `u-${i}`, W.legacy, W.frontend, { tls: { mesh: false } }));
  // Opaque TCP from payment to an outside address.
  out.push(record(baseNs, 'outbound', 'tcp-1', { ...PAYMENT_PODS[0], namespace: 'shop', workload: 'payment' }, { ip: '203.0.113.7', port: 5432 }, { protocol: 'tcp', tls: { mesh: false }, method: undefined, path: undefined, status_code: undefined }));
  return out;
}

let backend: DashboardBackend;
let session: BrowserSession;
let records: CallRecord[];

t.before(async () => {
  backend = await startDashboardBackend();
  records = dataset(BigInt(Date.now() - 60_000) * 1_000_000n);
  await backend.feed(records);
  session = await openBrowser({ width: 1500, height: 1000 });
});

t.teardown(async () => {
  await session?.close();
  await backend?.close();
});

const boxOf = (selector: string) => session.page.$$eval(selector, (els) => els.map((e) => {
  const r = e.getBoundingClientRect();
  return { x: r.x, y: r.y, width: r.width, height: r.height, ns: e.closest('[data-namespace]')?.getAttribute('data-namespace') ?? '', id: e.closest('[data-id]')?.getAttribute('data-id') ?? '' };
}));

void t.test('namespaces are boxes holding their workloads', async (t) => {
  const { page } = session;
  await page.goto(`${backend.baseUrl}#/map`);
  await page.locator('svg.service-map g.ns-group').first().waitFor();
  await waitFor('every workload drawn', async () => (await page.locator('svg.service-map g.node').count()) >= 12);
  const groups = await boxOf('svg.service-map g.ns-group > rect');
  t.same(groups.map((g) => g.ns).sort(), ['', 'infra', 'legacy', 'shop']);
  const nodes = await boxOf('svg.service-map g.node > rect');
  for (const node of nodes) {
    const group = groups.find((g) => g.ns === node.ns)!;
    t.ok(inside(node, group), `${node.id} inside the ${node.ns || 'outside'} box`);
  }
  t.equal(nodes.filter((x) => x.ns === 'shop').length, 8, 'the shop box holds the shop workloads');
  t.same(nodes.filter((x) => x.ns === 'infra').map((x) => x.id).sort(), ['infra/postgres', 'infra/redis']);
  const byNs = new Map(groups.map((g) => [g.ns, g]));
  t.ok(byNs.get('legacy')!.x < byNs.get('shop')!.x && byNs.get('shop')!.x < byNs.get('infra')!.x, 'callers left of callees: legacy, shop, infra');
  await session.screenshot('map-01-grouped');
});

void t.test('edge labels on the page overlap no other label and no workload', async (t) => {
  const labels = await boxOf('svg.service-map text.edge-label');
  t.ok(labels.length >= 10, `labels drawn (${labels.length})`);
  for (let i = 0; i < labels.length; i++) for (let j = i + 1; j < labels.length; j++) t.notOk(overlap(labels[i], labels[j]), `labels ${i} and ${j} apart`);
  const nodes = await boxOf('svg.service-map g.node > rect');
  for (const l of labels) for (const node of nodes) t.notOk(overlap(l, node), `a label clear of ${node.id}`);
});

void t.test('cross-node edges are dashed; the hot replica is marked', async (t) => {
  const { page } = session;
  const edge = page.locator('g.edge[data-source="shop/gateway"][data-target="shop/payment"]');
  t.match(await edge.getAttribute('class'), /cross-node/);
  t.not(await edge.locator('path.edge-line').evaluate((e) => (globalThis as any).getComputedStyle(e).strokeDasharray), 'none', 'dashed');
  const local = page.locator('g.edge[data-source="shop/gateway"][data-target="shop/auth"]');
  t.notMatch(await local.getAttribute('class'), /cross-node/);
  t.equal(await local.locator('path.edge-line').evaluate((e) => (globalThis as any).getComputedStyle(e).strokeDasharray), 'none', 'same-node edge solid');
  t.match(await page.locator('g.node[data-id="shop/payment"]').getAttribute('class'), /hot/);
  t.equal(await page.locator('g.node.hot').count(), 1, 'only payment is hot');
});

void t.test('hovering an edge shows its numbers; clicking opens the panel with all of them and a link to its calls', async (t) => {
  const { page } = session;
  const edge = page.locator('g.edge[data-source="shop/gateway"][data-target="shop/payment"]');
  await edge.locator('path.edge-hit').hover({ force: true });
  const card = page.locator('.edge-hover');
  await card.waitFor();
  t.match(await card.textContent(), /gateway → payment.*10 calls.*10(\.0)?% errors.*cross-node.*hot: payment-a/s);
  await session.screenshot('map-02-hover');

  await edge.locator('path.edge-hit').click({ force: true });
  const panel = page.locator('aside.edge-panel');
  await panel.waitFor();
  t.equal(await panel.getAttribute('data-source'), 'shop/gateway');
  const rows = Object.fromEntries(await panel.locator('table.edge-numbers tr').evaluateAll((trs) => trs.map((tr) => [tr.querySelector('th')?.textContent ?? '', tr.querySelector('td')?.textContent ?? ''])));
  t.match(rows, { Requests: /^10 · /, Errors: '1 (10%)', 'HTTP 429': '0 (0%)', 'Cross-node': 'yes: 8 calls crossed nodes', 'Replica imbalance': '2.4× the even share over 3 replicas' });
  for (const k of ['Retries', 'Timeouts', 'Connect p50 / p99', 'Resets', 'Connection reuse', 'Latency p50 / p99']) t.ok(k in rows, `row ${k}`);
  t.same(await panel.locator('.replicas li').evaluateAll((lis) => lis.map((li) => [li.getAttribute('data-pod'), li.classList.contains('hot')])), [
    ['payment-a', true],
    ['payment-b', false],
    ['payment-c', false],
  ]);
  await session.screenshot('map-03-panel');

  await panel.locator('a.edge-calls-link').click();
  await page.waitForURL(/#\/calls\?filter=/);
  const expected = records.filter((r) => r.observer === 'outbound' && r.src.workload === 'gateway' && r.dst.workload === 'payment').length;
  t.match(await page.locator('#filter-input').inputValue(), /src\.workload == "gateway" && .*dst\.workload == "payment"/);
  await waitFor('the edge calls listed', async () => (await page.locator('tbody tr.call-row').count()) >= expected);
});

void t.test('a map wider than the window is fitted to its width, and shown at its actual size on request (remembered)', async (t) => {
  const { page } = session;
  await page.setViewportSize({ width: 700, height: 800 });
  t.teardown(() => page.setViewportSize({ width: 1500, height: 1000 }));
  await page.goto(`${backend.baseUrl}#/map`);
  await page.locator('svg.service-map g.node').first().waitFor();
  const fitButton = page.locator('button.map-fit');
  await fitButton.waitFor();
  t.equal(await fitButton.getAttribute('aria-pressed'), 'true', 'fitted by default');
  const measure = () =>
    page.evaluate(() => {
      const scroller = (globalThis as any).document.querySelector('.map-scroller');
      const svg = scroller.querySelector('svg.service-map');
      return { client: scroller.clientWidth as number, scroll: scroller.scrollWidth as number, drawn: svg.getBoundingClientRect().width as number, own: Number(svg.getAttribute('width')) };
    });
  const fitted = await measure();
  t.ok(fitted.own > fitted.client, `the layout (${fitted.own} px) is wider than the window's map area (${fitted.client} px)`);
  t.ok(fitted.drawn <= fitted.client, `drawn ${fitted.drawn.toFixed(0)} px wide, within ${fitted.client} px`);
  t.ok(fitted.scroll <= fitted.client + 1, 'nothing to scroll sideways');
  t.match(await page.locator('.map-scale').textContent(), /^\d+%$/);
  // Labels still clear of each other and of the workloads when shrunk.
  const labels = await boxOf('svg.service-map text.edge-label');
  for (let i = 0; i < labels.length; i++) for (let j = i + 1; j < labels.length; j++) t.notOk(overlap(labels[i], labels[j]), `fitted: labels ${i} and ${j} apart`);
  // A click on an edge still selects it.
  await page.locator('g.edge[data-source="shop/gateway"][data-target="shop/auth"] path.edge-hit').click({ force: true });
  await page.locator('aside.edge-panel').waitFor();
  t.equal(await page.locator('aside.edge-panel').getAttribute('data-target'), 'shop/auth', 'the clicked edge opened');
  await page.locator('aside.edge-panel button').first().click();
  await session.screenshot('map-04-fitted');

  await fitButton.click();
  t.equal(await fitButton.getAttribute('aria-pressed'), 'false');
  const actual = await measure();
  t.ok(Math.abs(actual.drawn - actual.own) < 1, `actual size: drawn ${actual.drawn.toFixed(0)} px for ${actual.own} px`);
  t.ok(actual.scroll > actual.client, 'the map area scrolls sideways');
  await page.reload();
  await page.locator('svg.service-map g.node').first().waitFor();
  t.equal(await page.locator('button.map-fit').getAttribute('aria-pressed'), 'false', 'the choice is remembered');
  await page.locator('button.map-fit').click();
  t.ok((await measure()).drawn <= (await measure()).client, 'fitted again');
});

/** The map page freshly loaded in a window `width` px wide (restored to 1500 after the test). */
async function openMapAt(t: Test, width: number) {
  const { page } = session;
  await page.setViewportSize({ width, height: 800 });
  t.teardown(() => page.setViewportSize({ width: 1500, height: 1000 }));
  await page.goto(`${backend.baseUrl}#/map`);
  // The same address keeps the page: load it again so the map is laid out for this width.
  await page.reload();
  await waitFor('every workload drawn', async () => (await page.locator('svg.service-map g.node').count()) >= 12);
}

/** What the page draws of the map: every box, text and label on the screen, and the scale. */
const drawnMap = () =>
  session.page.evaluate(() => {
    const doc = (globalThis as any).document;
    const box = (e: any) => {
      const r = e.getBoundingClientRect();
      return { x: r.x, y: r.y, width: r.width, height: r.height };
    };
    const scroller = doc.querySelector('.map-scroller');
    const svg = scroller.querySelector('svg.service-map');
    return {
      scale: svg.getBoundingClientRect().width / Number(svg.getAttribute('width')),
      shown: doc.querySelector('.map-scale')?.textContent ?? '100%',
      scroller: { ...box(scroller), client: scroller.clientWidth as number, scroll: scroller.scrollWidth as number },
      svg: box(svg),
      groups: [...doc.querySelectorAll('g.ns-group')].map((g: any) => ({ ns: g.getAttribute('data-namespace') as string, ...box(g.querySelector('rect')) })),
      nodes: [...doc.querySelectorAll('g.node')].map((g: any) => ({ id: g.getAttribute('data-id') as string, ...box(g.querySelector('rect')), texts: [...g.querySelectorAll('text')].map(box) })),
      labels: [...doc.querySelectorAll('text.edge-label')].map(box),
      fontPx: Math.min(...[...doc.querySelectorAll('text.node-name')].map((e: any) => e.getBoundingClientRect().height)),
      // Painted after the last line (DOCUMENT_POSITION_FOLLOWING), so no line crosses a label's text.
      labelsOverLines: [...doc.querySelectorAll('text.edge-label')].every((l: any) => [...doc.querySelectorAll('path.edge-line')].every((p: any) => p.compareDocumentPosition(l) & 4)),
    };
  });

/** Nothing cut off or on top of another: texts inside their nodes, all of it inside the map area. */
function checkDrawn(t: Test, m: Awaited<ReturnType<typeof drawnMap>>, at: string) {
  t.ok(m.scroller.scroll <= m.scroller.client + 1, `${at}: nothing to scroll sideways (${m.scroller.scroll} in ${m.scroller.client} px)`);
  t.ok(m.svg.x >= m.scroller.x - 0.5 && m.svg.x + m.svg.width <= m.scroller.x + m.scroller.width + 0.5, `${at}: the map within its area`);
  for (const n of m.nodes) {
    t.ok(inside(n, m.svg), `${at}: ${n.id} inside the map`);
    for (const text of n.texts) t.ok(inside(text, n), `${at}: ${n.id}'s text within its box`);
  }
  for (const g of m.groups) t.ok(inside(g, m.svg), `${at}: the ${g.ns || 'outside'} box inside the map`);
  for (let i = 0; i < m.nodes.length; i++) for (let j = i + 1; j < m.nodes.length; j++) t.notOk(overlap(m.nodes[i], m.nodes[j]), `${at}: ${m.nodes[i].id} and ${m.nodes[j].id} apart`);
  t.ok(m.labels.length >= 10, `${at}: labels drawn (${m.labels.length})`);
  t.ok(m.labelsOverLines, `${at}: every label drawn over every line`);
  for (let i = 0; i < m.labels.length; i++) {
    t.ok(inside(m.labels[i], m.svg), `${at}: label ${i} inside the map`);
    for (let j = i + 1; j < m.labels.length; j++) t.notOk(overlap(m.labels[i], m.labels[j]), `${at}: labels ${i} and ${j} apart`);
    for (const n of m.nodes) t.notOk(overlap(m.labels[i], n), `${at}: label ${i} clear of ${n.id}`);
  }
}

void t.test('in a 700 px window the namespaces wrap into rows and the map is drawn at a readable scale; its edges still open', async (t) => {
  const { page } = session;
  await openMapAt(t, 700);
  t.equal(await page.locator('button.map-fit').getAttribute('aria-pressed'), 'true', 'fitted to the width');
  const m = await drawnMap();
  t.ok(m.scale >= 0.7, `drawn at ${Math.round(m.scale * 100)}% (${m.shown} shown)`);
  t.ok(m.fontPx >= 9, `workload names ${m.fontPx.toFixed(1)} px high`);
  const g = new Map(m.groups.map((x) => [x.ns, x]));
  t.ok(g.get('legacy')!.y + g.get('legacy')!.height <= g.get('shop')!.y, 'the calling namespace in a row above shop');
  t.ok(g.get('shop')!.y + g.get('shop')!.height <= g.get('infra')!.y, 'the called namespaces in a row below');
  checkDrawn(t, m, '700 px');
  await session.screenshot('map-05-narrow');

  // A click on a drawn point of an edge that runs between the rows opens that edge.
  const at = await page.locator('g.edge[data-source="shop/orders"][data-target="infra/postgres"] path.edge-line').evaluate((path: any) => {
    const p = path.getPointAtLength(path.getTotalLength() * 0.4);
    const ctm = path.getScreenCTM();
    return { x: ctm.a * p.x + ctm.c * p.y + ctm.e, y: ctm.b * p.x + ctm.d * p.y + ctm.f };
  });
  await page.mouse.click(at.x, at.y);
  const panel = page.locator('aside.edge-panel');
  await panel.waitFor();
  t.same([await panel.getAttribute('data-source'), await panel.getAttribute('data-target')], ['shop/orders', 'infra/postgres'], 'the clicked edge opened');
  await panel.locator('button').first().click();
  await panel.waitFor({ state: 'detached' });
  // Its label opens it too.
  await page.locator('g.edge-tag[data-source="shop/gateway"][data-target="shop/payment"]').click();
  await panel.waitFor();
  t.equal(await panel.getAttribute('data-target'), 'shop/payment', 'a click on a label opens its edge');
  await panel.locator('button').first().click();
});

void t.test('in a 1280 px window the namespaces stay side by side, drawn larger than before', async (t) => {
  await openMapAt(t, 1280);
  const m = await drawnMap();
  t.ok(m.scale >= 0.85, `drawn at ${Math.round(m.scale * 100)}%`);
  t.equal(m.labels.length, await session.page.locator('g.edge').count(), 'every edge labelled, as before');
  const g = new Map(m.groups.map((x) => [x.ns, x]));
  t.ok(g.get('legacy')!.x + g.get('legacy')!.width <= g.get('shop')!.x && g.get('shop')!.x + g.get('shop')!.width <= g.get('infra')!.x, 'callers left of callees: legacy, shop, infra');
  t.ok(m.groups.every((x) => x.y < g.get('shop')!.y + g.get('shop')!.height), 'one row of namespace columns, none wrapped below shop');
  checkDrawn(t, m, '1280 px');
  await session.screenshot('map-06-laptop');
});

void t.test('opening and closing an edge\'s panel moves no workload; the edge clicked stays the one shown', async (t) => {
  const { page } = session;
  await openMapAt(t, 700);
  const before = await drawnMap();
  const at = await page.locator('g.edge[data-source="shop/gateway"][data-target="shop/auth"] path.edge-line').evaluate((path: any) => {
    const p = path.getPointAtLength(path.getTotalLength() * 0.5);
    const ctm = path.getScreenCTM();
    return { x: ctm.a * p.x + ctm.c * p.y + ctm.e, y: ctm.b * p.x + ctm.d * p.y + ctm.f };
  });
  await page.mouse.move(at.x, at.y);
  await page.mouse.click(at.x, at.y);
  const panel = page.locator('aside.edge-panel');
  await panel.waitFor();
  await page.evaluate(() => new Promise((resolve) => (globalThis as any).requestAnimationFrame(() => (globalThis as any).requestAnimationFrame(resolve))));
  const open = await drawnMap();
  const moved = (a: typeof before, b: typeof before) =>
    [...a.nodes, ...a.groups.map((g) => ({ ...g, id: `ns ${g.ns}` }))].filter((x) => {
      const y = [...b.nodes, ...b.groups.map((g) => ({ ...g, id: `ns ${g.ns}` }))].find((z) => z.id === x.id);
      return !y || Math.abs(x.x - y.x) > 0.5 || Math.abs(x.y - y.y) > 0.5 || Math.abs(x.width - y.width) > 0.5;
    }).map((x) => x.id);
  t.same(moved(before, open), [], 'no workload or namespace moved when the panel opened');
  t.equal(open.shown, before.shown, `the same scale (${before.shown})`);
  t.same([await panel.getAttribute('data-source'), await panel.getAttribute('data-target')], ['shop/gateway', 'shop/auth'], 'the clicked edge is the one shown');
  t.equal(await page.locator('g.edge.selected').getAttribute('data-target'), 'shop/auth', 'and the one selected');
  t.match(await page.locator('.edge-hover').textContent(), /^gateway → auth/, 'the hover card still names the edge under the pointer');
  await session.screenshot('map-07-panel-narrow');
  await panel.locator('button').first().click();
  await panel.waitFor({ state: 'detached' });
  t.same(moved(before, await drawnMap()), [], 'nothing moved when it closed either');
});

void t.test('the time window is in the address: kept on reload and Back, and carried by the edge\'s calls link', async (t) => {
  const { page } = session;
  await page.goto(`${backend.baseUrl}#/map`);
  await page.locator('svg.service-map g.node').first().waitFor();
  const pressed = page.locator('[role="group"][aria-label="Time window"] button[aria-pressed="true"]');
  t.equal(await pressed.textContent(), '15m', '15 minutes by default');
  await page.locator('[role="group"][aria-label="Time window"] button', { hasText: /^1h$/ }).click();
  await page.waitForURL(/#\/map\?window=1h$/);
  // The address changes first; the button follows on the next render.
  await pressed.filter({ hasText: /^1h$/ }).waitFor();
  t.equal(await pressed.textContent(), '1h');
  const asked = page.waitForResponse((r) => r.url().includes('/api/servicemap?'));
  await page.reload();
  const sinceMs = Number(BigInt(new URL((await asked).url()).searchParams.get('since')!) / 1_000_000n);
  t.ok(Math.abs(Date.now() - 3_600_000 - sinceMs) < 60_000, 'the reloaded map asks for the last hour');
  await page.locator('svg.service-map g.node').first().waitFor();
  t.equal(await pressed.textContent(), '1h', 'kept on reload');

  await page.locator('g.edge-tag[data-source="shop/gateway"][data-target="shop/payment"]').click();
  const clicked = Date.now();
  await page.locator('aside.edge-panel a.edge-calls-link').click();
  await page.waitForURL(/#\/calls\?filter=/);
  const filter = await page.locator('#filter-input').inputValue();
  t.match(filter, /src\.workload == "gateway" && .*dst\.workload == "payment" && start >= timestamp\("[^"]+"\)$/);
  const start = Date.parse(/timestamp\("([^"]+)"\)/.exec(filter)![1]);
  t.ok(Math.abs(clicked - 3_600_000 - start) < 60_000, `the calls from the window's start (${new Date(start).toISOString()})`);
  const expected = records.filter((r) => r.observer === 'outbound' && r.src.workload === 'gateway' && r.dst.workload === 'payment').length;
  await waitFor('the edge calls listed', async () => (await page.locator('tbody tr.call-row').count()) >= expected);

  await page.goBack();
  await page.waitForURL(/#\/map\?window=1h$/);
  await page.locator('svg.service-map g.node').first().waitFor();
  t.equal(await pressed.textContent(), '1h', 'kept on Back');
  t.same(session.errors, [], 'no page or console errors');
});

void t.test('the coverage view says what is not seen, per workload', async (t) => {
  const { page } = session;
  await page.goto(`${backend.baseUrl}#/coverage`);
  const frontend = page.locator('article.coverage-card[data-id="shop/frontend"]');
  await frontend.waitFor();
  // frontend answered 3 meshed calls from loadgen and 2 from the unmeshed legacy client.
  t.match(await frontend.locator('.coverage-summary').textContent(), '40% of inbound calls come from unmeshed peers — their client side is not observed: legacy/legacy-client (http, 2 calls).');
  t.match(await frontend.locator('.coverage-summary').textContent(), /Exclusions by configuration: unknown/);
  const inbound = await frontend.locator('tr[data-side="inbound"] td').allTextContents();
  t.same(inbound, ['5', '5 http', '0', '0', '2', '0', '0', '0', '0']);
  // legacy-client has no sidecar: frontend's sidecar alone recorded its calls.
  const legacy = page.locator('article.coverage-card[data-id="legacy/legacy-client"]');
  t.match(await legacy.locator('.coverage-summary').textContent(), "100% of outbound calls were recorded only by the server's sidecar");
  t.same(await legacy.locator('tr[data-side="outbound"] td').allTextContents(), ['2', '2 http', '0', '0', '0', '2', '0', '0', '0']);
  const payment = page.locator('article.coverage-card[data-id="shop/payment"]');
  t.match(await payment.locator('.coverage-summary').textContent(), /opaque TCP/);
  t.match(await page.locator('.coverage-collector').textContent(), 'The collector refused nothing since it started.');
  await session.screenshot('map-04-coverage');
  t.same(session.errors, [], 'no page or console errors');
});

void t.test('coverage offers the service map\'s time windows, 5m included, and the API answers for 5 minutes', async (t) => {
  const { page } = session;
  const windows = () => page.locator('[role="group"][aria-label="Time window"] button').allTextContents();
  await page.goto(`${backend.baseUrl}#/map`);
  await page.locator('svg.service-map g.node').first().waitFor();
  const mapWindows = await windows();
  t.same(mapWindows, ['5m', '15m', '1h', '24h']);
  await page.goto(`${backend.baseUrl}#/coverage`);
  await page.locator('article.coverage-card').first().waitFor();
  t.same(await windows(), mapWindows, 'the same windows on both');

  const asked = page.waitForResponse((r) => r.url().includes('/api/coverage?'));
  const clicked = Date.now();
  await page.locator('[role="group"][aria-label="Time window"] button', { hasText: /^5m$/ }).click();
  const response = await asked;
  t.equal(response.status(), 200);
  const sinceMs = Number(BigInt(new URL(response.url()).searchParams.get('since')!) / 1_000_000n);
  t.ok(Math.abs(clicked - 5 * 60_000 - sinceMs) < 30_000, `asked for the last 5 minutes (since ${new Date(sinceMs).toISOString()})`);
  t.equal(await page.locator('[role="group"][aria-label="Time window"] button[aria-pressed="true"]').textContent(), '5m');
  // The records are a minute old: inside the 5 minutes.
  await page.locator('article.coverage-card[data-id="shop/frontend"]').waitFor();
  for (const since of ['5m', String(BigInt(Date.now() - 5 * 60_000) * 1_000_000n)]) {
    const direct = await fetch(`${backend.apiUrl}api/coverage?since=${since}`);
    t.equal(direct.status, 200, `GET /api/coverage?since=${since.length > 3 ? '<5 minutes ago, in ns>' : since}`);
    t.ok(Array.isArray(((await direct.json()) as { workloads?: unknown }).workloads));
  }
  t.same(session.errors, [], 'no page or console errors');
});
