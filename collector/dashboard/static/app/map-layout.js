// Service map layout with namespaces kept together: each namespace is a box, and inside a box
// its workloads are layered by call direction (layout.js does the layering). Boxes sit in
// columns ordered by call direction too (a namespace that calls another sits left of it); when
// those columns would only fit the width given at less than a readable scale, the boxes wrap
// into rows instead, in the same order. Nodes are as wide as their names need, up to a maximum
// (longer names are cut with an ellipsis; the full name stays with the node).
// Edges are curves where a curve runs clear of other workloads, else routed around them
// (map-route.js). Edge labels are short and placed where they overlap no other label and no
// node, where no other edge runs through them if such a place exists; a label with no free
// place is left out (its edge's numbers are on hover and in the side panel). Pure and
// deterministic, so it is tested in Node and the map does not jump between refreshes.
import { layoutServiceMap } from './layout.js';
import { curveLength, dipCurve, loopCurve, pointAlong, pointAt, polylineCurve, runsThrough, sCurve, segmentHitsBox } from './map-curve.js';
import { createRouter } from './map-route.js';

/**
 * @typedef {'name' | 'meta' | 'label' | 'title'} TextStyle the node's name, the line under it,
 *   an edge label, a namespace box's title
 * @typedef {(text: string, style: TextStyle) => number | undefined} TextWidth
 * @typedef {{ id: string, namespace?: string, name?: string, meta?: string, mark?: boolean }} GroupNodeIn
 *   name and meta: the node's two lines (default: its id, nothing); mark: room for the hot mark
 * @typedef {{ source: string, target: string, label?: string }} GroupEdgeIn
 * @typedef {{ x: number, y: number, width: number, height: number }} Box
 * @typedef {Box & { namespace: string, title: string, row: number }} PlacedGroup
 * @typedef {Box & { id: string, namespace: string, name: string, meta: string, fullName: string }} PlacedMapNode
 * @typedef {{ source: string, target: string, path: string, mid: [number, number], label?: Box & { text: string } }} PlacedMapEdge
 */

const DEFAULTS = {
  nodeHeight: 48,
  minNodeWidth: 80,
  maxNodeWidth: 200,
  /** Left and right of a node's text. */
  nodePadding: 12,
  /** Beside the name of a node with the hot mark. */
  markWidth: 14,
  /** Between layers inside a namespace box: room for one short label. */
  innerGap: 96,
  rowGap: 24,
  /** Between namespace boxes side by side: room for the labels of calls across namespaces. */
  columnGap: 96,
  /** Between boxes stacked in one column. */
  stackGap: 32,
  /** Between rows of boxes when they wrap. */
  wrapGap: 48,
  padding: 14,
  header: 26,
  margin: 12,
  labelHeight: 15,
  /** The width the map is shown in (0: no limit, one row of columns). */
  width: 0,
  /** Below this scale the columns no longer fit `width` and the boxes wrap into rows. */
  minScale: 0.7,
  /** How wide a text is drawn, measured where it is drawn; undefined falls back to an estimate. */
  textWidth: /** @type {TextWidth} */ (() => undefined),
};

/** @type {Record<TextStyle, [number, boolean]>} font size and whether bold, of each text style (app.css) */
const FONTS = { name: [13, true], meta: [11, false], label: [11, true], title: [12, true] };

/** Where labels are tried along an edge, as fractions of its length: the middle first. */
const LABEL_TS = [0.5, 0.4, 0.6, 0.3, 0.7, 0.22, 0.78, 0.15, 0.85];
const LABEL_NUDGES = [0, -10, 10, -20, 20];
/** How far curves keep from workloads they do not connect before they are routed instead. */
const CURVE_CLEARANCE = 4;
const CORNER_RADIUS = 8;
/** Left free before a line's end for its arrowhead. */
const ARROW_ROOM = 12;

/**
 * A generous estimate of how wide a text is drawn, for when it cannot be measured (in Node):
 * ems per character by its shape, in the style's size and weight.
 * @param {string} text
 * @param {TextStyle} style
 */
export function estimateTextWidth(text, style) {
  const [size, bold] = FONTS[style];
  let em = 0;
  for (const ch of text) em += /[ijltfrI1!|.,:;'()[\]/ ·-]/.test(ch) ? 0.36 : /[mwMW@%…]/.test(ch) ? 0.95 : /[A-Z0-9#&]/.test(ch) ? 0.7 : 0.62;
  return em * size * (bold ? 1.08 : 1);
}

/** @param {Box} a @param {Box} b */
export function boxesOverlap(a, b) {
  return a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;
}

/**
 * @param {GroupNodeIn[]} nodesIn
 * @param {GroupEdgeIn[]} edgesIn
 * @param {Partial<typeof DEFAULTS>} [options]
 * @returns {{ groups: PlacedGroup[], nodes: PlacedMapNode[], edges: PlacedMapEdge[], width: number, height: number, wrapped: boolean }}
 */
export function layoutGroupedMap(nodesIn, edgesIn, options = {}) {
  const o = { ...DEFAULTS, ...options };
  /** @type {(text: string, style: TextStyle) => number} */
  const measure = (text, style) => o.textWidth(text, style) ?? estimateTextWidth(text, style);
  /** @param {string} text @param {number} room @param {TextStyle} style */
  const fitText = (text, room, style) => {
    if (measure(text, style) <= room) return text;
    let lo = 0;
    let hi = text.length;
    while (lo < hi) {
      const mid = Math.ceil((lo + hi) / 2);
      if (measure(`${text.slice(0, mid)}…`, style) <= room) lo = mid;
      else hi = mid - 1;
    }
    return `${text.slice(0, lo).trimEnd()}…`;
  };

  // Each node's text, cut to the widest node, and the width it needs.
  /** @type {Map<string, { namespace: string, fullName: string, name: string, meta: string, width: number }>} */
  const info = new Map();
  /** @param {GroupNodeIn} n */
  const addNode = (n) => {
    const fullName = n.name ?? n.id;
    const inside = o.maxNodeWidth - 2 * o.nodePadding;
    const name = fitText(fullName, inside - (n.mark ? o.markWidth : 0), 'name');
    const meta = fitText(n.meta ?? '', inside, 'meta');
    const need = Math.max(measure(name, 'name') + (n.mark ? o.markWidth : 0), measure(meta, 'meta')) + 2 * o.nodePadding;
    info.set(n.id, { namespace: n.namespace ?? '', fullName, name, meta, width: Math.min(o.maxNodeWidth, Math.max(o.minNodeWidth, Math.ceil(need))) });
  };
  for (const n of nodesIn) if (!info.has(n.id)) addNode(n);
  // Edges may name nodes the list lacks (an unknown peer): outside any namespace.
  for (const e of edgesIn) for (const id of [e.source, e.target]) if (!info.has(id)) addNode({ id });
  const nsOf = (/** @type {string} */ id) => info.get(id)?.namespace ?? '';
  const namespaces = [...new Set([...info.values()].map((n) => n.namespace))].sort();
  // Layered in an order of their own, so the order the map's lists come in changes nothing.
  const ids = [...info.keys()].sort();
  const sortedEdges = [...edgesIn].sort(compareKeys);

  // Inside each namespace: its own layered layout, relative to the box's content corner. Each
  // layer is as wide as its widest node, and its nodes take that width.
  /** @type {Map<string, { width: number, height: number, nodes: Array<Box & { id: string }> }>} */
  const inner = new Map();
  for (const ns of namespaces) {
    const own = sortedEdges.filter((e) => nsOf(e.source) === ns && nsOf(e.target) === ns);
    const l = layoutServiceMap(ids.filter((id) => nsOf(id) === ns).map((id) => ({ id })), own, { nodeWidth: 1, nodeHeight: o.nodeHeight, layerGap: 0, rowGap: o.rowGap, margin: 0, labelHeight: 0 });
    const layers = Math.max(...l.nodes.map((n) => n.layer)) + 1;
    const layerWidth = Array.from({ length: layers }, (_, i) => Math.max(o.minNodeWidth, ...l.nodes.filter((n) => n.layer === i).map((n) => info.get(n.id)?.width ?? 0)));
    const layerX = layerWidth.map((_, i) => layerWidth.slice(0, i).reduce((s, w) => s + w + o.innerGap, 0));
    const nodes = l.nodes.map((n) => ({ id: n.id, x: layerX[n.layer], y: Math.round(n.y), width: layerWidth[n.layer], height: o.nodeHeight }));
    inner.set(ns, { width: Math.max(...nodes.map((n) => n.x + n.width)), height: Math.max(...nodes.map((n) => n.y + n.height)), nodes });
  }

  // Boxes: their titles and sizes.
  /** @type {Map<string, { title: string, width: number, height: number }>} */
  const boxes = new Map();
  for (const ns of namespaces) {
    const i = /** @type {{ width: number, height: number }} */ (inner.get(ns));
    const content = i.width + 2 * o.padding;
    const title = fitText(ns || 'outside the cluster', Math.max(content, o.maxNodeWidth + 2 * o.padding) - 24, 'title');
    boxes.set(ns, { title, width: Math.max(content, Math.ceil(measure(title, 'title')) + 24), height: i.height + 2 * o.padding + o.header });
  }

  // Namespaces as nodes of their own graph: columns by call direction, order within a column.
  const nsEdges = sortedEdges.map((e) => ({ source: nsOf(e.source), target: nsOf(e.target) })).filter((e) => e.source !== e.target);
  const nsLayout = layoutServiceMap(
    namespaces.map((id) => ({ id })),
    nsEdges,
  );
  const nsPlace = new Map(nsLayout.nodes.map((n) => [n.id, n]));
  const columns = Math.max(1, ...nsLayout.nodes.map((n) => n.layer + 1));
  /** @type {string[][]} */
  const byColumn = Array.from({ length: columns }, () => []);
  for (const ns of namespaces) byColumn[nsPlace.get(ns)?.layer ?? 0].push(ns);
  for (const col of byColumn) col.sort((a, b) => (nsPlace.get(a)?.order ?? 0) - (nsPlace.get(b)?.order ?? 0));
  const size = (/** @type {string} */ ns) => /** @type {{ title: string, width: number, height: number }} */ (boxes.get(ns));

  let groups = placeColumns(byColumn, size, o);
  let wrapped = false;
  const columnsWidth = Math.max(...groups.map((g) => g.x + g.width)) + o.margin;
  if (o.width > 0 && columnsWidth * o.minScale > o.width) {
    /** @type {Map<string, { namespace: string, x: number }>} each node's centre, across its box */
    const centre = new Map();
    for (const [ns, i] of inner) for (const n of i.nodes) centre.set(n.id, { namespace: ns, x: o.padding + n.x + n.width / 2 });
    const links = sortedEdges.map((e) => [centre.get(e.source), centre.get(e.target)]).filter(([a, b]) => a && b && a.namespace !== b.namespace);
    const rows = alignRows(placeRows(byColumn.flat(), size, o), /** @type {Array<[{ namespace: string, x: number }, { namespace: string, x: number }]>} */ (links), o);
    if (Math.max(...rows.map((g) => g.x + g.width)) + o.margin < columnsWidth) {
      groups = rows;
      wrapped = true;
    }
  }

  /** @type {PlacedMapNode[]} */
  const nodes = [];
  for (const g of groups) {
    const i = /** @type {NonNullable<ReturnType<typeof inner.get>>} */ (inner.get(g.namespace));
    for (const n of i.nodes) {
      const t = /** @type {NonNullable<ReturnType<typeof info.get>>} */ (info.get(n.id));
      nodes.push({ id: n.id, namespace: g.namespace, x: g.x + o.padding + n.x, y: g.y + o.header + o.padding + n.y, width: n.width, height: n.height, name: t.name, meta: t.meta, fullName: t.fullName });
    }
  }
  const at = new Map(nodes.map((n) => [n.id, n]));
  const rowOf = new Map(nodes.map((n) => [n.id, groups.find((g) => g.namespace === n.namespace)?.row ?? 0]));
  /** Where the box titles are written: nothing runs through them. */
  const titles = groups.map((g) => ({ x: g.x + 8, y: g.y + 4, width: Math.ceil(measure(g.title, 'title')) + 8, height: o.header - 8 }));

  // Lines: a curve where it runs clear (a forward S-curve; on one row, an arc below), else a
  // route around the workloads in the way, kept off the curves where it can.
  const simple = edgesIn.map((e) => {
    const a = /** @type {PlacedMapNode} */ (at.get(e.source));
    const b = /** @type {PlacedMapNode} */ (at.get(e.target));
    if (a === b) return { curve: loopCurve([a.x + a.width * 0.7, a.y]), clear: true };
    const forward = b.x >= a.x + a.width + 24;
    const curve = forward
      ? sCurve([a.x + a.width, a.y + a.height / 2], [b.x, b.y + b.height / 2])
      : dipCurve([a.x + a.width / 2, a.y + a.height], [b.x + b.width / 2, b.y + b.height], Math.max(a.y + a.height, b.y + b.height) + o.rowGap);
    const others = [...nodes.filter((n) => n !== a && n !== b), ...titles];
    return { curve, clear: (forward || rowOf.get(a.id) === rowOf.get(b.id)) && !runsThrough(curve, others, CURVE_CLEARANCE) };
  });
  // Routes and labels are placed in an order of their own, not the edges' (which may differ
  // between refreshes): routes by where they arrive, top to bottom, so lanes into one column
  // nest rather than cross; labels by source and target.
  const keyOrder = edgesIn.map((_, i) => i).sort((i, j) => compareKeys(edgesIn[i], edgesIn[j]));
  /** @param {number} i */
  const ends = (i) => [/** @type {PlacedMapNode} */ (at.get(edgesIn[i].source)), /** @type {PlacedMapNode} */ (at.get(edgesIn[i].target))];
  const routeOrder = keyOrder
    .filter((i) => !simple[i].clear)
    .sort((i, j) => {
      const [[a1, b1], [a2, b2]] = [ends(i), ends(j)];
      return b1.y - b2.y || b1.x - b2.x || a2.y - a1.y || a1.x - a2.x;
    });
  /** @type {ReturnType<typeof createRouter> | undefined} */
  let router;
  /** @type {import('./map-curve.js').Curve[]} */
  const curves = simple.map((s) => s.curve);
  for (const i of routeOrder) {
    const e = edgesIn[i];
    router ??= createRouter(
      [...nodes, ...titles],
      {
        xs: [o.margin / 2, ...groups.flatMap((g) => [g.x - o.margin / 2, g.x + g.width + o.margin / 2])],
        ys: [o.margin / 2, ...groups.flatMap((g) => [g.y - o.margin / 2, g.y + g.height + o.margin / 2])],
      },
      simple.filter((s) => s.clear).map((s) => s.curve.points),
      nodes,
    );
    const a = /** @type {PlacedMapNode} */ (at.get(e.source));
    const b = /** @type {PlacedMapNode} */ (at.get(e.target));
    const points = router.route(...ports(a, b, rowOf.get(a.id) ?? 0, rowOf.get(b.id) ?? 0), [nodes.indexOf(a), nodes.indexOf(b)]);
    if (points) curves[i] = polylineCurve(points, CORNER_RADIUS);
  }

  // Labels, by source and target, each at the first free place along its edge: inside the boxes'
  // extent and with no other line running through it if there is such a place.
  /** @type {Box[]} what labels must not cover: nodes and box headers */
  const obstacles = [...nodes, ...groups.map((g) => ({ x: g.x, y: g.y, width: g.width, height: o.header }))];
  /** @type {Box[]} */
  const placedLabels = [];
  // Labels stay within the boxes' extent where they can, so they do not widen the drawing.
  const contentRight = Math.max(...groups.map((g) => g.x + g.width)) + o.margin / 2;
  const contentBottom = Math.max(...groups.map((g) => g.y + g.height)) + o.margin / 2;
  /** Each line's extent, to skip the lines far from a label's place quickly. */
  const extents = curves.map((c) => {
    const [xs, ys] = [c.points.map((p) => p[0]), c.points.map((p) => p[1])];
    const [x, y] = [Math.min(...xs), Math.min(...ys)];
    return { x: x - 1, y: y - 1, width: Math.max(...xs) - x + 2, height: Math.max(...ys) - y + 2 };
  });
  /** @type {PlacedMapEdge[]} */
  const edges = edgesIn.map((e, i) => ({ source: e.source, target: e.target, path: curves[i].path, mid: pointAlong(curves[i], 0.5) }));
  for (const i of keyOrder) {
    const e = edgesIn[i];
    const curve = curves[i];
    const placed = edges[i];
    if (!e.label) continue;
    const width = Math.ceil(measure(e.label, 'label')) + 6;
    const crossed = (/** @type {Box} */ box) =>
      curves.some((c, k) => k !== i && boxesOverlap(extents[k], box) && c.points.some((p, n) => n > 0 && segmentHitsBox(c.points[n - 1], p, box, 0)));
    const free = (/** @type {Box} */ box) => box.x >= 0 && box.y >= 0 && !obstacles.some((ob) => boxesOverlap(ob, box)) && !placedLabels.some((l) => boxesOverlap(l, box));
    // On the line, a little above or below it, or beside it (where it runs up or down).
    const offsets = [...LABEL_NUDGES.map((dy) => [0, dy]), [-width / 2 - 6, 0], [width / 2 + 6, 0]];
    const spots = labelSpots(curve, width)
      .flatMap(([px, py]) => offsets.map(([dx, dy]) => ({ x: px + dx - width / 2, y: py + dy - o.labelHeight / 2, width, height: o.labelHeight })))
      .filter(free);
    const inside = (/** @type {Box} */ box) => box.x + box.width <= contentRight && box.y + box.height <= contentBottom;
    const spot = spots.find((box) => inside(box) && !crossed(box)) ?? spots.find(inside) ?? spots.find((box) => !crossed(box)) ?? spots[0];
    if (spot) {
      placedLabels.push(spot);
      placed.label = { ...spot, text: e.label };
    }
  }

  const xs = [...groups.map((g) => g.x + g.width), ...placedLabels.map((l) => l.x + l.width), ...curves.flatMap((c) => c.points.map((p) => p[0] + 4))];
  const ys = [...groups.map((g) => g.y + g.height), ...placedLabels.map((l) => l.y + l.height), ...curves.flatMap((c) => c.points.map((p) => p[1] + 4))];
  return { groups, nodes, edges, width: Math.ceil(Math.max(o.margin, ...xs) + o.margin), height: Math.ceil(Math.max(o.margin, ...ys) + o.margin), wrapped };
}

/** @param {GroupEdgeIn} a @param {GroupEdgeIn} b */
function compareKeys(a, b) {
  return a.source < b.source ? -1 : a.source > b.source ? 1 : a.target < b.target ? -1 : a.target > b.target ? 1 : 0;
}

/**
 * Boxes in columns left to right, stacked within a column; a column's boxes take its width.
 * @param {string[][]} byColumn
 * @param {(ns: string) => { title: string, width: number, height: number }} size
 * @param {typeof DEFAULTS} o
 * @returns {PlacedGroup[]}
 */
function placeColumns(byColumn, size, o) {
  /** @type {PlacedGroup[]} */
  const groups = [];
  let x = o.margin;
  for (const col of byColumn) {
    if (col.length === 0) continue;
    const colWidth = Math.max(...col.map((ns) => size(ns).width));
    let y = o.margin;
    for (const ns of col) {
      const s = size(ns);
      groups.push({ namespace: ns, title: s.title, row: 0, x, y, width: colWidth, height: s.height });
      y += s.height + o.stackGap;
    }
    x += colWidth + o.columnGap;
  }
  return groups;
}

/**
 * Boxes in reading order, left to right, wrapping to a new row when the next would go past
 * the width (or past the widest box, which needs a row of its own in any case).
 * @param {string[]} order
 * @param {(ns: string) => { title: string, width: number, height: number }} size
 * @param {typeof DEFAULTS} o
 * @returns {PlacedGroup[]}
 */
function placeRows(order, size, o) {
  const limit = Math.max(o.width, ...order.map((ns) => size(ns).width + 2 * o.margin));
  /** @type {PlacedGroup[]} */
  const groups = [];
  let [x, y, rowHeight, row] = [o.margin, o.margin, 0, 0];
  for (const ns of order) {
    const s = size(ns);
    if (x > o.margin && x + s.width + o.margin > limit) {
      [x, y, rowHeight, row] = [o.margin, y + rowHeight + o.wrapGap, 0, row + 1];
    }
    groups.push({ namespace: ns, title: s.title, row, x, y, width: s.width, height: s.height });
    x += s.width + o.columnGap;
    rowHeight = Math.max(rowHeight, s.height);
  }
  return groups;
}

/**
 * Moves the boxes of each row after the first under the nodes they call or are called by in
 * the rows above (the mean of those nodes' centres), keeping them apart and within the row's
 * width, so calls between rows run down rather than across the map.
 * @param {PlacedGroup[]} groups
 * @param {Array<[{ namespace: string, x: number }, { namespace: string, x: number }]>} links
 *   both ends of every call between boxes, with the node's centre across its box
 * @param {typeof DEFAULTS} o
 * @returns {PlacedGroup[]}
 */
function alignRows(groups, links, o) {
  const right = Math.max(...groups.map((g) => g.x + g.width));
  const rows = Math.max(...groups.map((g) => g.row)) + 1;
  const byNs = new Map(groups.map((g) => [g.namespace, g]));
  for (let r = 1; r < rows; r++) {
    const row = groups.filter((g) => g.row === r);
    const wanted = new Map(
      row.map((g) => {
        /** @type {number[]} */
        const pulls = [];
        for (const [a, b] of links) {
          for (const [own, other] of [
            [a, b],
            [b, a],
          ]) {
            const there = byNs.get(other.namespace);
            if (own.namespace === g.namespace && there && there.row < r) pulls.push(there.x + other.x - own.x);
          }
        }
        return [g, pulls.length === 0 ? g.x : pulls.reduce((sum, x) => sum + x, 0) / pulls.length];
      }),
    );
    row.sort((a, b) => (wanted.get(a) ?? 0) - (wanted.get(b) ?? 0));
    let edge = o.margin;
    for (const g of row) {
      g.x = Math.round(Math.max(wanted.get(g) ?? 0, edge));
      edge = g.x + g.width + o.columnGap;
    }
    edge = right;
    for (const g of [...row].reverse()) {
      g.x = Math.min(g.x, edge - g.width);
      edge = g.x - o.columnGap;
    }
  }
  return [...groups].sort((a, b) => a.row - b.row || a.x - b.x);
}

/**
 * The sides a routed edge may leave and enter by, with what each costs: the source's right
 * and the target's left side as a rule; into a row below, down out of the bottom and in at the
 * top; into a row above, the other way; backwards on one row, under both like the arcs.
 * @param {Box} a
 * @param {Box} b
 * @param {number} rowA
 * @param {number} rowB
 * @returns {[import('./map-route.js').Port[], import('./map-route.js').Port[]]}
 */
function ports(a, b, rowA, rowB) {
  const c = 8;
  const [acx, acy, bcx, bcy] = [a.x + a.width / 2, a.y + a.height / 2, b.x + b.width / 2, b.y + b.height / 2];
  const down = rowB > rowA;
  const up = rowB < rowA;
  const back = !down && !up && b.x + b.width <= a.x;
  return [
    [
      { port: [a.x + a.width, acy], lead: [a.x + a.width + c, acy], cost: 0 },
      { port: [acx, a.y + a.height], lead: [acx, a.y + a.height + c], cost: down ? 40 : back ? 0 : 60 },
      { port: [acx, a.y], lead: [acx, a.y - c], cost: up ? 40 : 60 },
    ],
    [
      { port: [b.x, bcy], lead: [b.x - c, bcy], cost: 0 },
      { port: [bcx, b.y], lead: [bcx, b.y - c], cost: down ? 0 : 60 },
      { port: [bcx, b.y + b.height], lead: [bcx, b.y + b.height + c], cost: up || back ? 0 : 60 },
    ],
  ];
}

/**
 * Where along a curve a label may be centred, best first: on a routed line, the middles of
 * its level runs long enough to hold it, longest first; its middle; just before the arrow
 * (where the lines fanning out of one node have parted) and just after the start (where
 * lines into one node have not yet met); then other points along its length.
 * @param {import('./map-curve.js').Curve} curve
 * @param {number} width
 * @returns {Array<[number, number]>}
 */
function labelSpots(curve, width) {
  /** @type {Array<[number, number]>} */
  const spots = [];
  const length = curveLength(curve);
  if (curve.routed) {
    const runs = curve.points
      .slice(1)
      .map((p, i) => [curve.points[i], p])
      .filter(([p, q]) => p[1] === q[1] && Math.abs(q[0] - p[0]) >= width + 2 * CORNER_RADIUS)
      .sort((r, s) => Math.abs(s[1][0] - s[0][0]) - Math.abs(r[1][0] - r[0][0]));
    for (const [p, q] of runs) spots.push([(p[0] + q[0]) / 2, p[1]]);
  }
  spots.push(pointAlong(curve, LABEL_TS[0]));
  if (length > width + 2 * ARROW_ROOM) spots.push(pointAt(curve, length - ARROW_ROOM - width / 2), pointAt(curve, ARROW_ROOM / 2 + width / 2));
  for (const t of LABEL_TS.slice(1)) spots.push(pointAlong(curve, t));
  return spots;
}
