// Service map layout: layered, left to right (callers left of callees), pure so it is tested
// in Node. A mesh map has tens of workloads, so a simple Sugiyama-style pass is plenty:
// longest-path layers over the graph without its back edges, then barycentre ordering.

/**
 * @typedef {{ id: string }} LayoutNodeIn
 * @typedef {{ source: string, target: string }} LayoutEdgeIn
 * @typedef {{ nodeWidth?: number, nodeHeight?: number, layerGap?: number, rowGap?: number, margin?: number, sweeps?: number, labelWidth?: number, labelHeight?: number }} LayoutOptions
 * @typedef {{ id: string, layer: number, order: number, x: number, y: number, width: number, height: number }} PlacedNode
 * @typedef {{ source: string, target: string, back: boolean, self: boolean, path: string, labelX: number, labelY: number }} PlacedEdge
 */

const DEFAULTS = { nodeWidth: 168, nodeHeight: 48, layerGap: 220, rowGap: 40, margin: 24, sweeps: 4, labelWidth: 170, labelHeight: 14 };
/** Where in the gap before its target a forward edge's label sits: past the fan-out of its source. */
const LABEL_T = 0.62;

/** @param {number} a @param {number} b @param {number} c @param {number} d @param {number} t */
const cubic = (a, b, c, d, t) => (1 - t) ** 3 * a + 3 * (1 - t) ** 2 * t * b + 3 * (1 - t) * t ** 2 * c + t ** 3 * d;

/**
 * The t in [0, 1] where a monotonic increasing f reaches `target` (bisection).
 * @param {(t: number) => number} f
 * @param {number} target
 */
function solveT(f, target) {
  let lo = 0;
  let hi = 1;
  for (let i = 0; i < 30; i++) {
    const mid = (lo + hi) / 2;
    if (f(mid) < target) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

/**
 * Edges that close a cycle, found by depth-first search from the nodes in input order.
 * @param {string[]} ids
 * @param {Map<string, string[]>} out
 * @returns {Set<string>} keys `source\u0000target`
 */
function backEdges(ids, out) {
  const state = new Map(); // 1 = on the stack, 2 = done
  const back = new Set();
  for (const root of ids) {
    if (state.has(root)) continue;
    /** @type {Array<[string, number]>} */
    const stack = [[root, 0]];
    state.set(root, 1);
    while (stack.length > 0) {
      const top = stack[stack.length - 1];
      const next = (out.get(top[0]) ?? [])[top[1]++];
      if (next === undefined) {
        state.set(top[0], 2);
        stack.pop();
      } else if (state.get(next) === 1) {
        back.add(`${top[0]}\u0000${next}`);
      } else if (!state.has(next)) {
        state.set(next, 1);
        stack.push([next, 0]);
      }
    }
  }
  return back;
}

/**
 * Places nodes in layers and returns SVG paths for edges.
 * @param {LayoutNodeIn[]} nodesIn
 * @param {LayoutEdgeIn[]} edgesIn
 * @param {LayoutOptions} [options]
 * @returns {{ nodes: PlacedNode[], edges: PlacedEdge[], width: number, height: number }}
 */
export function layoutServiceMap(nodesIn, edgesIn, options = {}) {
  const o = { ...DEFAULTS, ...options };
  const ids = [...new Set(nodesIn.map((n) => n.id))];
  const known = new Set(ids);
  // Edges may name nodes the list lacks (an unknown peer): they get a node of their own.
  for (const e of edgesIn) {
    for (const id of [e.source, e.target]) {
      if (!known.has(id)) {
        known.add(id);
        ids.push(id);
      }
    }
  }
  /** @type {Map<string, string[]>} */
  const out = new Map(ids.map((id) => [id, []]));
  for (const e of edgesIn) if (e.source !== e.target) out.get(e.source)?.push(e.target);
  const back = backEdges(ids, out);
  const forward = edgesIn.filter((e) => e.source !== e.target && !back.has(`${e.source}\u0000${e.target}`));

  // Longest path from any source: a caller always sits left of what it calls.
  const layer = new Map(ids.map((id) => [id, 0]));
  /** @type {Map<string, number>} */
  const indegree = new Map(ids.map((id) => [id, 0]));
  for (const e of forward) indegree.set(e.target, (indegree.get(e.target) ?? 0) + 1);
  const queue = ids.filter((id) => indegree.get(id) === 0);
  for (let i = 0; i < queue.length; i++) {
    const id = queue[i];
    for (const e of forward) {
      if (e.source !== id) continue;
      layer.set(e.target, Math.max(layer.get(e.target) ?? 0, (layer.get(id) ?? 0) + 1));
      const left = (indegree.get(e.target) ?? 0) - 1;
      indegree.set(e.target, left);
      if (left === 0) queue.push(e.target);
    }
  }

  const layerCount = Math.max(0, ...layer.values()) + 1;
  /** @type {string[][]} */
  const layers = Array.from({ length: layerCount }, () => []);
  for (const id of ids) layers[layer.get(id) ?? 0].push(id);
  // Stable start: alphabetical within a layer, so the map does not jump between refreshes.
  for (const l of layers) l.sort();

  /** @type {Map<string, number>} */
  const order = new Map();
  const setOrder = () => layers.forEach((l) => l.forEach((id, i) => order.set(id, i)));
  setOrder();
  /** @param {string} id @param {'in' | 'out'} dir */
  const neighbours = (id, dir) => forward.filter((e) => (dir === 'in' ? e.target === id : e.source === id)).map((e) => (dir === 'in' ? e.source : e.target));
  for (let s = 0; s < o.sweeps; s++) {
    const down = s % 2 === 0;
    const range = down ? layers.slice(1) : layers.slice(0, -1).reverse();
    for (const l of range) {
      const bary = new Map(
        l.map((id) => {
          const ns = neighbours(id, down ? 'in' : 'out');
          return [id, ns.length === 0 ? (order.get(id) ?? 0) : ns.reduce((sum, n) => sum + (order.get(n) ?? 0), 0) / ns.length];
        }),
      );
      l.sort((a, b) => (bary.get(a) ?? 0) - (bary.get(b) ?? 0) || (order.get(a) ?? 0) - (order.get(b) ?? 0));
      l.forEach((id, i) => order.set(id, i));
    }
  }
  setOrder();

  const tallest = Math.max(1, ...layers.map((l) => l.length));
  const height = o.margin * 2 + tallest * o.nodeHeight + (tallest - 1) * o.rowGap;
  const width = o.margin * 2 + layerCount * o.nodeWidth + (layerCount - 1) * o.layerGap;
  /** @type {Map<string, PlacedNode>} */
  const placed = new Map();
  layers.forEach((l, li) => {
    const columnHeight = l.length * o.nodeHeight + (l.length - 1) * o.rowGap;
    const top = (height - columnHeight) / 2;
    l.forEach((id, i) => {
      placed.set(id, {
        id,
        layer: li,
        order: i,
        x: o.margin + li * (o.nodeWidth + o.layerGap),
        y: top + i * (o.nodeHeight + o.rowGap),
        width: o.nodeWidth,
        height: o.nodeHeight,
      });
    });
  });

  const edges = edgesIn.map((e) => {
    const a = /** @type {PlacedNode} */ (placed.get(e.source));
    const b = /** @type {PlacedNode} */ (placed.get(e.target));
    const isBack = back.has(`${e.source}\u0000${e.target}`);
    if (e.source === e.target) {
      const x = a.x + a.width * 0.7;
      const y = a.y;
      return { source: e.source, target: e.target, back: false, self: true, path: `M ${x} ${y} c 0 -34 40 -34 40 0 l -12 0`, labelX: x + 20, labelY: y - 30 };
    }
    const forwardDir = b.x > a.x;
    if (forwardDir) {
      const x1 = a.x + a.width;
      const y1 = a.y + a.height / 2;
      const x2 = b.x;
      const y2 = b.y + b.height / 2;
      const dx = (x2 - x1) / 2;
      // An edge that skips layers gets its label in its last gap, clear of the nodes it passes.
      const labelAtX = b.layer - a.layer > 1 ? x2 - o.layerGap * (1 - LABEL_T) : x1 + (x2 - x1) * LABEL_T;
      const t = solveT((tt) => cubic(x1, x1 + dx, x2 - dx, x2, tt), labelAtX);
      return {
        source: e.source,
        target: e.target,
        back: isBack,
        self: false,
        path: `M ${x1} ${y1} C ${x1 + dx} ${y1} ${x2 - dx} ${y2} ${x2} ${y2}`,
        labelX: cubic(x1, x1 + dx, x2 - dx, x2, t),
        labelY: cubic(y1, y1, y2, y2, t) - 6,
      };
    }
    // Backwards or within one layer: leave from the bottom and arc below the nodes.
    const x1 = a.x + a.width / 2;
    const y1 = a.y + a.height;
    const x2 = b.x + b.width / 2;
    const y2 = b.y + b.height;
    const dip = Math.max(y1, y2) + o.rowGap;
    return { source: e.source, target: e.target, back: isBack, self: false, path: `M ${x1} ${y1} C ${x1} ${dip} ${x2} ${dip} ${x2} ${y2}`, labelX: (x1 + x2) / 2, labelY: dip - 4 };
  });

  spreadLabels(edges, o.labelWidth, o.labelHeight);
  const bottom = Math.max(height, ...edges.map((e) => e.labelY + o.labelHeight));
  return { nodes: [...placed.values()], edges, width, height: Math.ceil(bottom) };
}

/**
 * Moves labels down until no two overlap (edges into one node converge near it, and so would
 * their labels). Labels are centred on labelX with their baseline at labelY.
 * @param {PlacedEdge[]} edges
 * @param {number} width
 * @param {number} height
 */
function spreadLabels(edges, width, height) {
  /** @type {PlacedEdge[]} */
  const placed = [];
  const order = [...edges].sort((a, b) => a.labelY - b.labelY || a.labelX - b.labelX);
  for (const e of order) {
    for (let guard = 0; guard < edges.length + 1; guard++) {
      const hit = placed.find((p) => Math.abs(p.labelX - e.labelX) < width && Math.abs(p.labelY - e.labelY) < height);
      if (!hit) break;
      e.labelY = hit.labelY + height;
    }
    placed.push(e);
  }
}
