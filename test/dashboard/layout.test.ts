/** The service map's layered layout. */
import t from 'tap';
import { loadBrowserModule } from './browser-modules.ts';

const { layoutServiceMap } = await loadBrowserModule('layout.js');

const shopNodes = ['frontend', 'gateway', 'auth', 'catalog', 'payment'].map((id) => ({ id }));
const shopEdges = [
  { source: 'frontend', target: 'gateway' },
  { source: 'gateway', target: 'auth' },
  { source: 'gateway', target: 'catalog' },
  { source: 'gateway', target: 'payment' },
  { source: 'frontend', target: 'catalog' },
];

type Placed = { id: string; layer: number; order: number; x: number; y: number; width: number; height: number };
const byId = (nodes: Placed[]) => new Map(nodes.map((n) => [n.id, n]));

void t.test('callers sit left of their callees, one layer per hop of the longest path', async (t) => {
  const layout = layoutServiceMap(shopNodes, shopEdges);
  const n = byId(layout.nodes);
  t.equal(n.get('frontend')!.layer, 0);
  t.equal(n.get('gateway')!.layer, 1);
  for (const id of ['auth', 'catalog', 'payment']) t.equal(n.get(id)!.layer, 2, id);
  for (const e of shopEdges) t.ok(n.get(e.source)!.x < n.get(e.target)!.x, `${e.source} left of ${e.target}`);
  t.equal(layout.edges.length, shopEdges.length);
  t.ok(layout.edges.every((e: { back: boolean; path: string }) => !e.back && /^M [\d.]+ [\d.]+ C /.test(e.path)));
});

void t.test('nodes never overlap and stay inside the drawing', async (t) => {
  const many = Array.from({ length: 12 }, (_, i) => ({ id: `svc-${i}` }));
  const edges = many.slice(1).map((m, i) => ({ source: i < 4 ? 'svc-0' : `svc-${i % 4}`, target: m.id }));
  const layout = layoutServiceMap(many, edges);
  const nodes: Placed[] = layout.nodes;
  for (const a of nodes) {
    t.ok(a.x >= 0 && a.y >= 0 && a.x + a.width <= layout.width && a.y + a.height <= layout.height, `${a.id} inside`);
    for (const b of nodes) {
      if (a === b) continue;
      const apart = a.x + a.width <= b.x || b.x + b.width <= a.x || a.y + a.height <= b.y || b.y + b.height <= a.y;
      t.ok(apart, `${a.id} and ${b.id} apart`);
    }
  }
});

void t.test('cycles, self calls and peers missing from the node list do not break it', async (t) => {
  const layout = layoutServiceMap([{ id: 'a' }, { id: 'b' }], [
    { source: 'a', target: 'b' },
    { source: 'b', target: 'a' },
    { source: 'b', target: 'b' },
    { source: 'b', target: 'unknown-peer' },
  ]);
  const n = byId(layout.nodes);
  t.ok(n.has('unknown-peer'), 'a node for an edge end the list lacked');
  t.ok(n.get('a')!.layer < n.get('b')!.layer);
  const back = layout.edges.find((e: { source: string; target: string }) => e.source === 'b' && e.target === 'a');
  t.equal(back.back, true, 'the edge closing the cycle is marked as a back edge');
  t.equal(layout.edges.find((e: { self: boolean }) => e.self).source, 'b');
  t.ok(layout.edges.every((e: { path: string; labelX: number; labelY: number }) => !/NaN/.test(e.path) && Number.isFinite(e.labelX) && Number.isFinite(e.labelY)));
});

void t.test('ordering within a layer follows the callers (fewer crossings), and is stable', async (t) => {
  const nodes = ['a', 'b', 'x', 'y'].map((id) => ({ id }));
  // a calls y, b calls x: alphabetical order would cross; barycentre order does not.
  const edges = [
    { source: 'a', target: 'y' },
    { source: 'b', target: 'x' },
  ];
  const one = layoutServiceMap(nodes, edges);
  const n = byId(one.nodes);
  t.ok(n.get('y')!.y < n.get('x')!.y, 'y beside a, x beside b');
  t.same(layoutServiceMap(nodes, edges), one, 'same input, same drawing');
  t.same(layoutServiceMap([], []).nodes, []);
});

void t.test('edge labels never overlap, even where edges converge on one node', async (t) => {
  const layout = layoutServiceMap(shopNodes, [...shopEdges, { source: 'frontend', target: 'auth' }]);
  const labels: Array<{ labelX: number; labelY: number }> = layout.edges;
  for (const a of labels) {
    for (const b of labels) {
      if (a === b) continue;
      t.ok(Math.abs(a.labelX - b.labelX) >= 170 || Math.abs(a.labelY - b.labelY) >= 14, 'labels apart');
    }
    t.ok(a.labelY <= layout.height, 'label inside the drawing');
  }
});
