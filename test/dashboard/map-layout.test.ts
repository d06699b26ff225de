/** The namespace-grouped service map layout and the edge helpers, in Node. */
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
const label = 'x'.repeat(14);
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
