/** The namespace-grouped service map layout and the edge helpers, in Node. */
import fc from 'fast-check';
import t from 'tap';
import { loadBrowserModule } from './browser-modules.ts';

const { layoutGroupedMap, boxesOverlap } = await loadBrowserModule('map-layout.js');
const { edgeCallsFilter, edgeDetailRows, edgeLabel } = await loadBrowserModule('map-edge.js');

type Box = { x: number; y: number; width: number; height: number };
const inside = (a: Box, b: Box) => a.x >= b.x && a.y >= b.y && a.x + a.width <= b.x + b.width && a.y + a.height <= b.y + b.height;

const nodes = [
  { id: 'shop/frontend', namespace: 'shop' },
  { id: 'shop/gateway', namespace: 'shop' },
  { id: 'shop/payment', namespace: 'shop' },
  { id: 'shop/catalog', namespace: 'shop' },
  { id: 'infra/redis', namespace: 'infra' },
  { id: 'infra/postgres', namespace: 'infra' },
  { id: 'legacy/ip/10.1.2.3', namespace: 'legacy' },
  { id: 'ip/203.0.113.7' },
];
/** The longest label the map draws (format.js: rate and error share). */
const label = '12.3k/s · 100%';
const edges = [
  ['legacy/ip/10.1.2.3', 'shop/frontend'],
  ['shop/frontend', 'shop/gateway'],
  ['shop/gateway', 'shop/payment'],
  ['shop/gateway', 'shop/catalog'],
  ['shop/catalog', 'infra/redis'],
  ['shop/payment', 'infra/postgres'],
  ['shop/gateway', 'infra/redis'],
  ['shop/payment', 'ip/203.0.113.7'],
  ['shop/frontend', 'shop/catalog'],
].map(([source, target]) => ({ source, target, label }));

void t.test('every node sits inside its namespace box; boxes do not overlap', async (t) => {
  const l = layoutGroupedMap(nodes, edges);
  const box = new Map<string, any>(l.groups.map((g: Box & { namespace: string }) => [g.namespace, g]));
  t.same([...box.keys()].sort(), ['', 'infra', 'legacy', 'shop']);
  for (const n of l.nodes) t.ok(inside(n, box.get(n.namespace)), `${n.id} inside its box`);
  for (const n of nodes) t.equal(l.nodes.find((p: { id: string }) => p.id === n.id).namespace, n.namespace ?? '');
  for (let i = 0; i < l.groups.length; i++) for (let j = i + 1; j < l.groups.length; j++) t.notOk(boxesOverlap(l.groups[i], l.groups[j]), `${l.groups[i].namespace} / ${l.groups[j].namespace}`);
  for (let i = 0; i < l.nodes.length; i++) for (let j = i + 1; j < l.nodes.length; j++) t.notOk(boxesOverlap(l.nodes[i], l.nodes[j]));
  t.ok(l.groups.every((g: Box) => g.x + g.width <= l.width && g.y + g.height <= l.height), 'inside the drawing');
});

void t.test('namespaces are ordered by call direction, and so are workloads inside one', async (t) => {
  const l = layoutGroupedMap(nodes, edges);
  const g = new Map<string, any>(l.groups.map((x: Box & { namespace: string }) => [x.namespace, x]));
  t.ok(g.get('legacy').x < g.get('shop').x, 'legacy calls shop: left of it');
  t.ok(g.get('shop').x < g.get('infra').x, 'shop calls infra: left of it');
  const n = new Map<string, any>(l.nodes.map((x: Box & { id: string }) => [x.id, x]));
  t.ok(n.get('shop/frontend').x < n.get('shop/gateway').x);
  t.ok(n.get('shop/gateway').x < n.get('shop/payment').x);
  const again = layoutGroupedMap(nodes, edges);
  t.same(again, l, 'deterministic');
});

void t.test('labels overlap no other label and no node; one that cannot fit is left out', async (t) => {
  const l = layoutGroupedMap(nodes, edges);
  const labels = l.edges.flatMap((e: { label?: Box }) => (e.label ? [e.label] : []));
  t.ok(labels.length >= edges.length - 2, `most edges labelled (${labels.length}/${edges.length})`);
  for (let i = 0; i < labels.length; i++) {
    for (let j = i + 1; j < labels.length; j++) t.notOk(boxesOverlap(labels[i], labels[j]), `labels ${i} and ${j}`);
    for (const n of l.nodes) t.notOk(boxesOverlap(labels[i], n), `label ${i} and node ${n.id}`);
  }
  // Many edges converging on one node in a small space: some labels give way, none overlap.
  const fan = Array.from({ length: 12 }, (_, i) => ({ id: `a/n${i}`, namespace: 'a' }));
  const fanEdges = fan.slice(1).map((n) => ({ source: n.id, target: 'a/n0', label: 'y'.repeat(30) }));
  const f = layoutGroupedMap(fan, fanEdges, { innerGap: 40 });
  const fl = f.edges.flatMap((e: { label?: Box }) => (e.label ? [e.label] : []));
  for (let i = 0; i < fl.length; i++) for (let j = i + 1; j < fl.length; j++) t.notOk(boxesOverlap(fl[i], fl[j]));
  t.ok(fl.length < fanEdges.length, `some labels left out (${fl.length}/${fanEdges.length})`);
});

void t.test('edge helpers: the label, the calls filter by node kind, the detail rows', async (t) => {
  t.equal(edgeLabel({ source: 'a', target: 'b', rate_per_s: 2.5, error_rate: 0.12 }), '2.5/s · 12%');
  const mapNodes = [
    { id: 'shop/gateway', namespace: 'shop', workload: 'gateway', kind: 'Deployment' },
    { id: 'legacy/ip/10.1.2.3', namespace: 'legacy', workload: '10.1.2.3', kind: 'External' },
    { id: 'shop/service/db', namespace: 'shop', workload: 'db', kind: 'Service' },
    { id: 'node/lab', namespace: '', workload: 'lab', kind: 'Node' },
  ];
  t.equal(edgeCallsFilter({ source: 'legacy/ip/10.1.2.3', target: 'shop/gateway' }, mapNodes), 'src.namespace == "legacy" && src.ip == "10.1.2.3" && dst.namespace == "shop" && dst.workload == "gateway"');
  t.equal(edgeCallsFilter({ source: 'node/lab', target: 'shop/service/db' }, mapNodes), 'src.node == "lab" && dst.namespace == "shop" && dst.service == "db"');
  t.equal(edgeCallsFilter({ source: 'node/lab', target: 'shop/service/db' }, mapNodes, Date.UTC(2026, 0, 2, 3, 4, 5)), 'src.node == "lab" && dst.namespace == "shop" && dst.service == "db" && start >= timestamp("2026-01-02T03:04:05.000Z")', 'from the window\'s start');
  const rows = new Map(
    edgeDetailRows({
      source: 'a',
      target: 'b',
      requests: 20,
      retries: 2,
      retry_rate: 0.1,
      connects: 5,
      connect_p50_ms: 3,
      connect_p99_ms: 5,
      cross_node: true,
      cross_node_calls: 6,
      replicas: [{ pod: 'p1', requests: 14, share: 0.7 }, { pod: 'p2', requests: 6, share: 0.3 }],
      replica_imbalance: 1.4,
    }),
  );
  t.equal(rows.get('Retries'), '2 (10%)');
  t.match(rows.get('Connect p50 / p99'), /\(5 connects\)$/);
  t.equal(rows.get('Cross-node'), 'yes: 6 calls crossed nodes');
  t.equal(rows.get('Replica imbalance'), '1.4× the even share over 2 replicas');
  t.equal(new Map(edgeDetailRows({ source: 'a', target: 'b' })).get('Connect p50 / p99'), 'no connect seen');
  t.equal(new Map(edgeDetailRows({ source: 'a', target: 'b' })).get('WebSocket messages'), undefined, 'no messages, no row');
  t.match(new Map(edgeDetailRows({ source: 'a', target: 'b', requests: 1, messages: 40 })).get('WebSocket messages'), /^40 \(not calls/);
});

void t.test('a forward edge never runs through a workload it does not connect', async (t) => {
  // frontend → catalog skips gateway's layer; legacy → frontend would cross loadgen.
  const more = [...nodes, { id: 'shop/loadgen', namespace: 'shop' }];
  const moreEdges = [...edges, { source: 'shop/loadgen', target: 'shop/frontend', label }];
  const l = layoutGroupedMap(more, moreEdges);
  const byId = new Map<string, Box & { id: string }>(l.nodes.map((n: Box & { id: string }) => [n.id, n]));
  for (const e of l.edges as Array<{ source: string; target: string; path: string }>) {
    const a = byId.get(e.source)!;
    const b = byId.get(e.target)!;
    if (b.x <= a.x + a.width) continue; // arcs below, not a forward edge
    // Sample the drawn path: every cubic and line segment of it.
    const nums = e.path.match(/-?[\d.]+/g)!.map(Number);
    const pts: Array<[number, number]> = [];
    let [cx, cy] = [nums[0], nums[1]];
    const rest = e.path.slice(e.path.indexOf(' ', e.path.indexOf(' ', 2) + 1)).trim().split(/(?=[CL])/);
    for (const seg of rest) {
      const v = seg.match(/-?[\d.]+/g)!.map(Number);
      if (seg.startsWith('L')) {
        for (let i = 0; i <= 20; i++) pts.push([cx + ((v[0] - cx) * i) / 20, cy + ((v[1] - cy) * i) / 20]);
        [cx, cy] = [v[0], v[1]];
      } else {
        for (let i = 0; i <= 40; i++) {
          const u = i / 40;
          const f = (p0: number, p1: number, p2: number, p3: number) => (1 - u) ** 3 * p0 + 3 * (1 - u) ** 2 * u * p1 + 3 * (1 - u) * u ** 2 * p2 + u ** 3 * p3;
          pts.push([f(cx, v[0], v[2], v[4]), f(cy, v[1], v[3], v[5])]);
        }
        [cx, cy] = [v[4], v[5]];
      }
    }
    for (const n of l.nodes as Array<Box & { id: string }>) {
      if (n.id === e.source || n.id === e.target) continue;
      const hit = pts.find(([x, y]) => x > n.x && x < n.x + n.width && y > n.y && y < n.y + n.height);
      t.notOk(hit, `${e.source} → ${e.target} clear of ${n.id}`);
    }
  }
});

/** The points a drawn path runs through (its M, L and C commands, and relative c), sampled. */
function pathPoints(d: string): Array<[number, number]> {
  const pts: Array<[number, number]> = [];
  let [cx, cy] = [0, 0];
  for (const seg of d.trim().split(/(?=[MLCc])/)) {
    const v = seg.match(/-?[\d.]+/g)!.map(Number);
    const cmd = seg[0];
    if (cmd === 'M' || cmd === 'L') {
      const [x, y] = v;
      if (cmd === 'L') for (let i = 1; i <= 20; i++) pts.push([cx + ((x - cx) * i) / 20, cy + ((y - cy) * i) / 20]);
      else pts.push([x, y]);
      [cx, cy] = [x, y];
    } else {
      const c = cmd === 'c' ? v.map((n, i) => n + (i % 2 === 0 ? cx : cy)) : v;
      for (let i = 1; i <= 40; i++) {
        const u = i / 40;
        const f = (p0: number, p1: number, p2: number, p3: number) => (1 - u) ** 3 * p0 + 3 * (1 - u) ** 2 * u * p1 + 3 * (1 - u) * u ** 2 * p2 + u ** 3 * p3;
        pts.push([f(cx, c[0], c[2], c[4]), f(cy, c[1], c[3], c[5])]);
      }
      [cx, cy] = [c[4], c[5]];
    }
  }
  return pts;
}

/** The lab's shop as the map shows it: one wide namespace between a caller's and two callees'. */
const shopWorkloads = ['loadgen', 'frontend', 'gateway', 'auth', 'catalog', 'orders', 'inventory', 'payment'];
const shopNodes = [
  ...shopWorkloads.map((w) => ({ id: `shop/${w}`, namespace: 'shop', name: w, meta: 'Deployment', mark: w === 'payment' })),
  { id: 'infra/redis', namespace: 'infra', name: 'redis', meta: 'StatefulSet' },
  { id: 'infra/postgres', namespace: 'infra', name: 'postgres', meta: 'StatefulSet' },
  { id: 'legacy/legacy-client', namespace: 'legacy', name: 'legacy-client', meta: 'Deployment' },
  { id: 'ip/203.0.113.7', name: '203.0.113.7', meta: 'External' },
];
const shopEdges = [
  ['shop/loadgen', 'shop/frontend'],
  ['shop/frontend', 'shop/gateway'],
  ['shop/gateway', 'shop/auth'],
  ['shop/gateway', 'shop/catalog'],
  ['shop/gateway', 'shop/orders'],
  ['shop/gateway', 'shop/inventory'],
  ['shop/gateway', 'shop/payment'],
  ['shop/frontend', 'shop/catalog'],
  ['shop/orders', 'shop/payment'],
  ['shop/catalog', 'infra/redis'],
  ['shop/auth', 'infra/redis'],
  ['shop/inventory', 'infra/redis'],
  ['shop/orders', 'infra/postgres'],
  ['legacy/legacy-client', 'shop/frontend'],
  ['shop/payment', 'ip/203.0.113.7'],
].map(([source, target]) => ({ source, target, label: '0.05/s · 0%' }));

/** A 700 px window's map area and a 1280 px one's (the scroller's padding taken off). */
const NARROW = 668;
const WIDE = 1248;

void t.test('below a readable scale the namespace boxes wrap into rows; above it they stay side by side', async (t) => {
  const wide = layoutGroupedMap(shopNodes, shopEdges, { width: WIDE });
  t.equal(wide.wrapped, false, 'one row of columns at 1280 px');
  t.ok(WIDE / wide.width >= 0.85, `drawn at ${Math.round((100 * WIDE) / wide.width)}% at 1280 px`);
  const g = new Map<string, any>(wide.groups.map((x: Box & { namespace: string }) => [x.namespace, x]));
  t.ok(g.get('legacy').x < g.get('shop').x && g.get('shop').x < g.get('infra').x, 'callers left of callees');

  const narrow = layoutGroupedMap(shopNodes, shopEdges, { width: NARROW });
  t.equal(narrow.wrapped, true, 'rows at 700 px');
  t.ok(NARROW / narrow.width >= 0.7, `drawn at ${Math.round((100 * NARROW) / narrow.width)}% at 700 px`);
  const n = new Map<string, any>(narrow.groups.map((x: Box & { namespace: string }) => [x.namespace, x]));
  t.ok(n.get('legacy').y + n.get('legacy').height <= n.get('shop').y, "the caller's row above");
  t.ok(n.get('shop').y + n.get('shop').height <= n.get('infra').y, "the callees' row below");

  // No width given: one row, as before there was a width to fit.
  t.equal(layoutGroupedMap(shopNodes, shopEdges).wrapped, false);
  // The threshold itself: wrapping starts where the columns would be drawn below 70 %.
  const columnsWidth = layoutGroupedMap(shopNodes, shopEdges).width;
  t.equal(layoutGroupedMap(shopNodes, shopEdges, { width: Math.ceil(columnsWidth * 0.7) + 1 }).wrapped, false, 'fits at 70 %: no wrap');
  t.equal(layoutGroupedMap(shopNodes, shopEdges, { width: Math.floor(columnsWidth * 0.7) - 20 }).wrapped, true, 'would be below 70 %: wraps');
});

void t.test('at any width: node boxes apart, everything inside the drawing, no line through a workload it does not connect', async (t) => {
  for (const width of [0, 360, NARROW, 900, WIDE, 2000]) {
    const l = layoutGroupedMap(shopNodes, shopEdges, { width });
    const nodes: Array<Box & { id: string }> = l.nodes;
    t.equal(nodes.length, shopNodes.length, `${width}: every node placed`);
    for (let i = 0; i < nodes.length; i++) for (let j = i + 1; j < nodes.length; j++) t.notOk(boxesOverlap(nodes[i], nodes[j]), `${width}: ${nodes[i].id} / ${nodes[j].id}`);
    for (let i = 0; i < l.groups.length; i++) for (let j = i + 1; j < l.groups.length; j++) t.notOk(boxesOverlap(l.groups[i], l.groups[j]), `${width}: boxes ${l.groups[i].namespace} / ${l.groups[j].namespace}`);
    const drawing = { x: 0, y: 0, width: l.width, height: l.height };
    for (const n of nodes) t.ok(inside(n, drawing), `${width}: ${n.id} inside the drawing`);
    for (const g of l.groups) t.ok(inside(g, drawing), `${width}: box ${g.namespace} inside the drawing`);
    const labels = l.edges.flatMap((e: { label?: Box }) => (e.label ? [e.label] : []));
    t.ok(labels.length >= shopEdges.length - 2, `${width}: most edges labelled (${labels.length}/${shopEdges.length})`);
    for (let i = 0; i < labels.length; i++) {
      t.ok(inside(labels[i], drawing), `${width}: label ${i} inside the drawing`);
      for (let j = i + 1; j < labels.length; j++) t.notOk(boxesOverlap(labels[i], labels[j]), `${width}: labels ${i} and ${j}`);
      for (const n of nodes) t.notOk(boxesOverlap(labels[i], n), `${width}: label ${i} and node ${n.id}`);
    }
    for (const e of l.edges as Array<{ source: string; target: string; path: string }>) {
      const pts = pathPoints(e.path);
      t.ok(pts.every(([x, y]) => x >= 0 && y >= 0 && x <= l.width && y <= l.height), `${width}: ${e.source} → ${e.target} inside the drawing`);
      for (const n of nodes) {
        if (n.id === e.source || n.id === e.target) continue;
        t.notOk(pts.find(([x, y]) => x > n.x && x < n.x + n.width && y > n.y && y < n.y + n.height), `${width}: ${e.source} → ${e.target} clear of ${n.id}`);
      }
    }
  }
});

void t.test('the same map gives the same drawing, whatever order its nodes and edges come in', async (t) => {
  const one = layoutGroupedMap(shopNodes, shopEdges, { width: NARROW });
  t.same(layoutGroupedMap(shopNodes, shopEdges, { width: NARROW }), one, 'same input, same drawing');
  const shuffled = layoutGroupedMap([...shopNodes].reverse(), [...shopEdges].reverse(), { width: NARROW });
  const byKey = (l: any) => Object.fromEntries(l.edges.map((e: { source: string; target: string }) => [`${e.source} ${e.target}`, e]));
  const byId = (l: any) => Object.fromEntries(l.nodes.map((n: { id: string }) => [n.id, n]));
  t.same(byKey(shuffled), byKey(one), 'edges drawn the same in another order');
  t.same(byId(shuffled), byId(one), 'nodes placed the same in another order');
  t.same(shuffled.groups, one.groups);
});

void t.test('nodes are as wide as their names need, up to a maximum; a longer name is cut, and kept whole beside', async (t) => {
  const long = 'a-workload-name-far-too-long-to-fit-in-any-node-box';
  const l = layoutGroupedMap(
    [
      { id: 'a/x', namespace: 'a', name: 'x', meta: 'Deployment' },
      { id: 'b/wide', namespace: 'b', name: 'checkout-gateway', meta: 'Deployment' },
      { id: 'c/long', namespace: 'c', name: long, meta: 'Deployment' },
    ],
    [],
  );
  const n = new Map<string, any>(l.nodes.map((x: { id: string }) => [x.id, x]));
  t.ok(n.get('a/x').width < n.get('b/wide').width, 'a short name, a narrower node');
  t.ok(n.get('a/x').width < 168 && n.get('b/wide').width < 168, `narrower than the old fixed 168 px (${n.get('a/x').width}, ${n.get('b/wide').width})`);
  t.equal(n.get('b/wide').name, 'checkout-gateway', 'a name that fits is whole');
  t.ok(n.get('c/long').width > 168 && n.get('c/long').width <= 200, `no wider than the maximum (${n.get('c/long').width})`);
  t.match(n.get('c/long').name, /^a-workload-name.*…$/, 'cut with an ellipsis');
  t.ok(n.get('c/long').name.length < long.length);
  t.equal(n.get('c/long').fullName, long, 'the whole name kept for its title');
  // Measured where drawn when a measure is given: a wider font, wider nodes.
  const wider = layoutGroupedMap([{ id: 'a/x', namespace: 'a', name: 'checkout', meta: '' }], [], { textWidth: (text: string) => text.length * 12 });
  t.equal(wider.nodes[0].width, 8 * 12 + 24, 'fitted to the measured name');
});

/** The layout's promises checked on one drawing; the first broken one, or undefined. */
function broken(l: any, ids: string[]): string | undefined {
  const nodes: Array<Box & { id: string }> = l.nodes;
  if (nodes.length !== ids.length) return `${nodes.length} nodes placed for ${ids.length}`;
  const drawing = { x: 0, y: 0, width: l.width, height: l.height };
  for (let i = 0; i < nodes.length; i++) {
    if (!inside(nodes[i], drawing)) return `${nodes[i].id} outside the drawing`;
    for (let j = i + 1; j < nodes.length; j++) if (boxesOverlap(nodes[i], nodes[j])) return `${nodes[i].id} overlaps ${nodes[j].id}`;
  }
  for (let i = 0; i < l.groups.length; i++) for (let j = i + 1; j < l.groups.length; j++) if (boxesOverlap(l.groups[i], l.groups[j])) return `boxes ${i} and ${j} overlap`;
  const labels: Box[] = l.edges.flatMap((e: { label?: Box }) => (e.label ? [e.label] : []));
  for (let i = 0; i < labels.length; i++) {
    if (!inside(labels[i], drawing)) return `label ${i} outside the drawing`;
    for (let j = i + 1; j < labels.length; j++) if (boxesOverlap(labels[i], labels[j])) return `labels ${i} and ${j} overlap`;
    for (const n of nodes) if (boxesOverlap(labels[i], n)) return `label ${i} on ${n.id}`;
  }
  for (const e of l.edges as Array<{ source: string; target: string; path: string }>) {
    const pts = pathPoints(e.path);
    if (pts.some(([x, y]) => !(x >= 0 && y >= 0 && x <= l.width && y <= l.height))) return `${e.source} → ${e.target} outside the drawing`;
    for (const n of nodes) {
      if (n.id !== e.source && n.id !== e.target && pts.some(([x, y]) => x > n.x && x < n.x + n.width && y > n.y && y < n.y + n.height)) return `${e.source} → ${e.target} through ${n.id}`;
    }
  }
  return undefined;
}

void t.test('property: any map at any width keeps nodes apart and inside, labels apart, lines clear of other workloads; same input, same drawing', async (t) => {
  const map = fc
    .record({
      nodes: fc.uniqueArray(fc.record({ ns: fc.constantFrom('a', 'b', 'c', 'db', ''), name: fc.stringMatching(/^[a-z][a-z-]{0,30}$/) }), { minLength: 1, maxLength: 18, selector: (n) => `${n.ns}/${n.name}` }),
      pairs: fc.array(fc.tuple(fc.nat(), fc.nat()), { maxLength: 30 }),
      width: fc.oneof(fc.constant(0), fc.integer({ min: 300, max: 2000 })),
    })
    .map(({ nodes, pairs, width }) => {
      const ns = nodes.map((n) => ({ id: `${n.ns}/${n.name}`, namespace: n.ns || undefined, name: n.name, meta: 'Deployment' }));
      const keys = new Set<string>();
      const edges = pairs
        .map(([a, b]) => ({ source: ns[a % ns.length].id, target: ns[b % ns.length].id, label: '1.2/s · 0.4%' }))
        .filter((e) => !keys.has(`${e.source} ${e.target}`) && keys.add(`${e.source} ${e.target}`));
      return { nodes: ns, edges, width };
    });
  fc.assert(
    fc.property(map, ({ nodes, edges, width }) => {
      const l = layoutGroupedMap(nodes, edges, { width });
      const why = broken(l, nodes.map((n) => n.id));
      if (why) throw new Error(why);
      if (JSON.stringify(layoutGroupedMap(nodes, edges, { width })) !== JSON.stringify(l)) throw new Error('not deterministic');
    }),
    { numRuns: 150 },
  );
  t.pass('150 random maps');
});
