// Service map layout with namespaces kept together: each namespace is a box, boxes sit in
// columns ordered by call direction (a namespace that calls another sits left of it), and
// inside a box its workloads are layered by call direction too (layout.js does both passes).
// Edge labels are short and placed where they overlap no other label and no node; a label with
// no free place is left out (its edge's numbers are on hover and in the side panel). Pure and
// deterministic, so it is tested in Node and the map does not jump between refreshes.
import { layoutServiceMap } from './layout.js';

/**
 * @typedef {{ id: string, namespace?: string }} GroupNodeIn
 * @typedef {{ source: string, target: string, label?: string }} GroupEdgeIn
 * @typedef {{ x: number, y: number, width: number, height: number }} Box
 * @typedef {Box & { namespace: string }} PlacedGroup
 * @typedef {Box & { id: string, namespace: string }} PlacedMapNode
 * @typedef {{ source: string, target: string, path: string, label?: Box & { text: string } }} PlacedMapEdge
 */

const DEFAULTS = {
  nodeWidth: 168,
  nodeHeight: 48,
  /** Between layers inside a namespace box. */
  innerGap: 120,
  rowGap: 28,
  /** Between namespace columns: room for the labels of calls across namespaces. */
  columnGap: 170,
  /** Between boxes stacked in one column. */
  stackGap: 40,
  padding: 16,
  header: 26,
  margin: 20,
  /** Label box: characters × this, and its height (11 px text). */
  charWidth: 6.6,
  labelHeight: 15,
};

/** Where labels are tried along an edge, as fractions of its length: the middle first. */
const LABEL_TS = [0.5, 0.4, 0.6, 0.3, 0.7, 0.22, 0.78, 0.15, 0.85];
const LABEL_NUDGES = [0, -10, 10, -20, 20];

/** @param {Box} a @param {Box} b */
export function boxesOverlap(a, b) {
  return a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;
}

/** @param {number} a @param {number} b @param {number} c @param {number} d @param {number} t */
const cubic = (a, b, c, d, t) => (1 - t) ** 3 * a + 3 * (1 - t) ** 2 * t * b + 3 * (1 - t) * t ** 2 * c + t ** 3 * d;

/**
 * @param {GroupNodeIn[]} nodesIn
 * @param {GroupEdgeIn[]} edgesIn
 * @param {Partial<typeof DEFAULTS>} [options]
 * @returns {{ groups: PlacedGroup[], nodes: PlacedMapNode[], edges: PlacedMapEdge[], width: number, height: number }}
 */
export function layoutGroupedMap(nodesIn, edgesIn, options = {}) {
  const o = { ...DEFAULTS, ...options };
  /** @type {Map<string, string>} node id → namespace */
  const nsOf = new Map(nodesIn.map((n) => [n.id, n.namespace ?? '']));
  // Edges may name nodes the list lacks (an unknown peer): outside any namespace.
  for (const e of edgesIn) for (const id of [e.source, e.target]) if (!nsOf.has(id)) nsOf.set(id, '');
  const namespaces = [...new Set(nsOf.values())].sort();

  // Namespaces as nodes of their own graph: columns by call direction, order within a column.
  const nsEdges = edgesIn.map((e) => ({ source: nsOf.get(e.source) ?? '', target: nsOf.get(e.target) ?? '' })).filter((e) => e.source !== e.target);
  const nsLayout = layoutServiceMap(
    namespaces.map((id) => ({ id })),
    nsEdges,
  );
  const nsPlace = new Map(nsLayout.nodes.map((n) => [n.id, n]));

  // Inside each namespace: its own layered layout, relative to the box's content corner.
  /** @type {Map<string, { width: number, height: number, nodes: Array<{ id: string, x: number, y: number }> }>} */
  const inner = new Map();
  for (const ns of namespaces) {
    const ids = [...nsOf.entries()].filter(([, n]) => n === ns).map(([id]) => ({ id }));
    const own = edgesIn.filter((e) => nsOf.get(e.source) === ns && nsOf.get(e.target) === ns);
    const l = layoutServiceMap(ids, own, { nodeWidth: o.nodeWidth, nodeHeight: o.nodeHeight, layerGap: o.innerGap, rowGap: o.rowGap, margin: 0, labelHeight: 0 });
    const width = Math.max(...l.nodes.map((n) => n.x + n.width));
    const height = Math.max(...l.nodes.map((n) => n.y + n.height));
    inner.set(ns, { width, height, nodes: l.nodes.map((n) => ({ id: n.id, x: n.x, y: n.y })) });
  }

  // Columns of boxes.
  const columns = Math.max(1, ...nsLayout.nodes.map((n) => n.layer + 1));
  /** @type {string[][]} */
  const byColumn = Array.from({ length: columns }, () => []);
  for (const ns of namespaces) byColumn[nsPlace.get(ns)?.layer ?? 0].push(ns);
  for (const col of byColumn) col.sort((a, b) => (nsPlace.get(a)?.order ?? 0) - (nsPlace.get(b)?.order ?? 0));
  const boxSize = (/** @type {string} */ ns) => {
    const i = /** @type {{ width: number, height: number }} */ (inner.get(ns));
    return { width: i.width + 2 * o.padding, height: i.height + 2 * o.padding + o.header };
  };
  /** @type {PlacedGroup[]} */
  const groups = [];
  let x = o.margin;
  for (const col of byColumn) {
    const colWidth = Math.max(0, ...col.map((ns) => boxSize(ns).width));
    let y = o.margin;
    for (const ns of col) {
      const size = boxSize(ns);
      groups.push({ namespace: ns, x, y, width: colWidth, height: size.height });
      y += size.height + o.stackGap;
    }
    x += colWidth + o.columnGap;
  }

  /** @type {PlacedMapNode[]} */
  const nodes = [];
  for (const g of groups) {
    const i = /** @type {NonNullable<ReturnType<typeof inner.get>>} */ (inner.get(g.namespace));
    for (const n of i.nodes) nodes.push({ id: n.id, namespace: g.namespace, x: g.x + o.padding + n.x, y: g.y + o.header + o.padding + n.y, width: o.nodeWidth, height: o.nodeHeight });
  }
  const at = new Map(nodes.map((n) => [n.id, n]));

  /** @type {Box[]} what labels must not cover: nodes and box headers */
  const obstacles = [...nodes, ...groups.map((g) => ({ x: g.x, y: g.y, width: g.width, height: o.header }))];
  /** @type {Box[]} */
  const placedLabels = [];
  const edges = edgesIn.map((e) => {
    const a = /** @type {PlacedMapNode} */ (at.get(e.source));
    const b = /** @type {PlacedMapNode} */ (at.get(e.target));
    const curve = routeAround(edgeCurve(a, b, o.rowGap), a, b, nodes, o.rowGap);
    /** @type {PlacedMapEdge} */
    const placed = { source: e.source, target: e.target, path: curve.path };
    if (e.label) {
      const width = Math.ceil(e.label.length * o.charWidth) + 6;
      for (const t of LABEL_TS) {
        const [px, py] = curve.point(t);
        const spot = LABEL_NUDGES.map((dy) => ({ x: px - width / 2, y: py - o.labelHeight / 2 + dy, width, height: o.labelHeight })).find(
          (box) => box.x >= 0 && box.y >= 0 && !obstacles.some((ob) => boxesOverlap(ob, box)) && !placedLabels.some((l) => boxesOverlap(l, box)),
        );
        if (spot) {
          placedLabels.push(spot);
          placed.label = { ...spot, text: e.label };
          break;
        }
      }
    }
    return placed;
  });

  const width = Math.ceil(Math.max(o.margin, ...groups.map((g) => g.x + g.width), ...placedLabels.map((l) => l.x + l.width)) + o.margin);
  const height = Math.ceil(Math.max(o.margin, ...groups.map((g) => g.y + g.height), ...placedLabels.map((l) => l.y + l.height)) + o.margin + o.rowGap);
  return { groups, nodes, edges, width, height };
}

/** @typedef {{ path: string, point: (t: number) => [number, number] }} Curve */

/**
 * @param {Curve} curve
 * @param {Box[]} boxes
 */
function crosses(curve, boxes) {
  for (let i = 1; i < 48; i++) {
    const [x, y] = curve.point(i / 48);
    if (boxes.some((n) => x > n.x - 4 && x < n.x + n.width + 4 && y > n.y - 4 && y < n.y + n.height + 4)) return true;
  }
  return false;
}

/**
 * A forward edge that would run through a node it does not connect (it skips a layer where
 * something sits) goes around instead: out of its source, along a lane above or below the
 * nodes in the way (whichever is nearer), and into its target.
 * @param {Curve} curve
 * @param {Box} a
 * @param {Box} b
 * @param {Box[]} nodes
 * @param {number} gap
 * @returns {Curve}
 */
function routeAround(curve, a, b, nodes, gap) {
  const x1 = a.x + a.width;
  const x2 = b.x;
  if (a === b || x2 <= x1) return curve;
  const others = nodes.filter((n) => n !== a && n !== b);
  if (!crosses(curve, others)) return curve;
  const between = others.filter((n) => n.x + n.width > x1 && n.x < x2);
  const y1 = a.y + a.height / 2;
  const y2 = b.y + b.height / 2;
  const above = Math.min(...between.map((n) => n.y)) - gap / 2;
  const below = Math.max(...between.map((n) => n.y + n.height)) + gap / 2;
  const mid = (y1 + y2) / 2;
  const lanes = Math.abs(mid - above) <= Math.abs(below - mid) ? [above, below] : [below, above];
  for (const lane of lanes) {
    // Bends take the first and last sixth of the run; the lane runs straight between them.
    const xa = x1 + (x2 - x1) / 6;
    const xb = x2 - (x2 - x1) / 6;
    const d = (xa - x1) / 2;
    /** @type {(t: number) => [number, number]} */
    const point = (t) => {
      if (t < 1 / 3) {
        const u = t * 3;
        return [cubic(x1, x1 + d, xa - d, xa, u), cubic(y1, y1, lane, lane, u)];
      }
      if (t > 2 / 3) {
        const u = (t - 2 / 3) * 3;
        return [cubic(xb, xb + d, x2 - d, x2, u), cubic(lane, lane, y2, y2, u)];
      }
      return [xa + (xb - xa) * (t - 1 / 3) * 3, lane];
    };
    const around = { path: `M ${x1} ${y1} C ${x1 + d} ${y1} ${xa - d} ${lane} ${xa} ${lane} L ${xb} ${lane} C ${xb + d} ${lane} ${x2 - d} ${y2} ${x2} ${y2}`, point };
    if (!crosses(around, others)) return around;
  }
  return curve;
}

/**
 * The drawn curve of an edge and a way to sample it: forward edges leave a node's right side
 * for the target's left side; anything else (same column, backwards) arcs below both nodes.
 * @param {Box} a
 * @param {Box} b
 * @param {number} dipGap
 * @returns {{ path: string, point: (t: number) => [number, number] }}
 */
function edgeCurve(a, b, dipGap) {
  if (a === b) {
    const x = a.x + a.width * 0.7;
    const y = a.y;
    return { path: `M ${x} ${y} c 0 -30 36 -30 36 0`, point: () => [x + 18, y - 30] };
  }
  if (b.x > a.x + a.width) {
    const [x1, y1, x2, y2] = [a.x + a.width, a.y + a.height / 2, b.x, b.y + b.height / 2];
    const dx = (x2 - x1) / 2;
    return { path: `M ${x1} ${y1} C ${x1 + dx} ${y1} ${x2 - dx} ${y2} ${x2} ${y2}`, point: (t) => [cubic(x1, x1 + dx, x2 - dx, x2, t), cubic(y1, y1, y2, y2, t)] };
  }
  const [x1, y1, x2, y2] = [a.x + a.width / 2, a.y + a.height, b.x + b.width / 2, b.y + b.height];
  const dip = Math.max(y1, y2) + dipGap;
  return { path: `M ${x1} ${y1} C ${x1} ${dip} ${x2} ${dip} ${x2} ${y2}`, point: (t) => [cubic(x1, x1, x2, x2, t), cubic(y1, dip, dip, y2, t)] };
}
