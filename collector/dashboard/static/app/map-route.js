// Orthogonal routes around boxes, for the service map's edges that a plain curve cannot draw
// without running through a workload (an edge that skips a layer where something sits, or one
// between namespace boxes on different rows). The routes run on a grid of lines just outside
// every box, with lanes between them, found by an A* search whose cost counts a route's length,
// its bends, the lanes earlier routes already took (so parallel edges spread out instead of
// drawing over each other) and the places where other lines already run. Pure and
// deterministic: same boxes and requests in the same order, same routes.

/**
 * @typedef {[number, number]} Point
 * @typedef {{ x: number, y: number, width: number, height: number }} Box
 * @typedef {{ port: Point, lead: Point, cost: number }} Port where the line meets its box
 *   (port), the grid point straight out from it (lead), and what choosing this side costs
 */

/** Directions: right, down, left, up. */
const DX = [1, 0, -1, 0];
const DY = [0, 1, 0, -1];

const DEFAULTS = {
  /** How far routes keep from every box; leads sit this far out. */
  clearance: 8,
  /** A bend costs as much as this many pixels of line. */
  bend: 24,
  /** A lane another route already runs along costs this many times its length more. */
  shared: 3,
  /** Each grid point close to a line drawn otherwise costs this much more. */
  near: 40,
  /** How much the search trusts its distance estimate over what it has found: above 1, it
   * looks at far fewer ways for a route at most this many times dearer than the cheapest. */
  greed: 2,
  /** How many steps all searches of one drawing may take together, and one search at most,
   * before routes only keep clear of boxes (a big, dense map still lays out in time). */
  budget: 150_000,
  searchBudget: 20_000,
};

/** Grid coordinates are kept to half pixels so a lead always finds its line. */
const snap = (/** @type {number} */ v) => Math.round(v * 2) / 2;

/**
 * Sorted distinct coordinates with lanes added in the wide gaps between them.
 * @param {number[]} values
 */
function withLanes(values) {
  const base = [...new Set(values.map(snap))].sort((a, b) => a - b);
  const out = [...base];
  for (let i = 1; i < base.length; i++) {
    const gap = base[i] - base[i - 1];
    if (gap >= 24) out.push(snap(base[i - 1] + gap / 4), snap(base[i - 1] + gap / 2), snap(base[i - 1] + (3 * gap) / 4));
    else if (gap >= 12) out.push(snap(base[i - 1] + gap / 2));
  }
  return [...new Set(out)].sort((a, b) => a - b);
}

/** A binary heap of values by priority, smallest first (ties: smaller value first). */
class Heap {
  constructor() {
    /** @type {number[]} */
    this.priorities = [];
    /** @type {number[]} */
    this.values = [];
  }

  get size() {
    return this.values.length;
  }

  /** @param {number} i @param {number} j */
  less(i, j) {
    const p = this.priorities;
    return p[i] < p[j] || (p[i] === p[j] && this.values[i] < this.values[j]);
  }

  /** @param {number} i @param {number} j */
  swap(i, j) {
    const p = this.priorities;
    const v = this.values;
    const tp = p[i];
    p[i] = p[j];
    p[j] = tp;
    const tv = v[i];
    v[i] = v[j];
    v[j] = tv;
  }

  /** @param {number} priority @param {number} value */
  push(priority, value) {
    this.priorities.push(priority);
    this.values.push(value);
    let i = this.values.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(i, parent)) break;
      this.swap(i, parent);
      i = parent;
    }
  }

  /** The smallest priority's value, removed; read `top` for its priority first. */
  pop() {
    const value = this.values[0];
    const lastP = /** @type {number} */ (this.priorities.pop());
    const lastV = /** @type {number} */ (this.values.pop());
    const n = this.values.length;
    if (n > 0) {
      this.priorities[0] = lastP;
      this.values[0] = lastV;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < n && this.less(l, m)) m = l;
        if (r < n && this.less(r, m)) m = r;
        if (m === i) break;
        this.swap(i, m);
        i = m;
      }
    }
    return value;
  }

  get top() {
    return this.priorities[0];
  }
}

/**
 * The first index of a sorted array whose value is at least `v`.
 * @param {number[]} sorted
 * @param {number} v
 */
function lowerBound(sorted, v) {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid] < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * A router for one drawing: the boxes to keep clear of, extra lines routes may run along (the
 * gaps between namespace boxes, the drawing's edges), the lines already drawn otherwise
 * (polylines), and the boxes whose sides lines meet at their middle height (the nodes); routes
 * keep off those lines and sides where they can.
 * @param {Box[]} boxes
 * @param {{ xs?: number[], ys?: number[] }} [lines]
 * @param {Point[][]} [drawn]
 * @param {Box[]} [sides]
 * @param {Partial<typeof DEFAULTS>} [options]
 */
export function createRouter(boxes, lines = {}, drawn = [], sides = [], options = {}) {
  const o = { ...DEFAULTS, ...options };
  const c = o.clearance;
  const xs = withLanes([...boxes.flatMap((b) => [b.x - c, b.x + b.width / 2, b.x + b.width + c]), ...(lines.xs ?? [])]);
  const ys = withLanes([...boxes.flatMap((b) => [b.y - c, b.y + b.height / 2, b.y + b.height + c]), ...(lines.ys ?? [])]);
  const nx = xs.length;
  const ny = ys.length;
  const xIndex = new Map(xs.map((v, i) => [v, i]));
  const yIndex = new Map(ys.map((v, i) => [v, i]));
  // A grid point is closed when it lies inside a box grown by a little less than the clearance,
  // so the lines at the clearance stay open. Every box has a line through its middle both ways,
  // so no run between two open neighbours can pass over a box.
  const blocked = new Uint8Array(nx * ny);
  const inner = c - 2;
  for (const b of boxes) {
    for (let i = 0; i < nx; i++) {
      if (xs[i] <= b.x - inner || xs[i] >= b.x + b.width + inner) continue;
      for (let j = 0; j < ny; j++) if (ys[j] > b.y - inner && ys[j] < b.y + b.height + inner) blocked[i * ny + j] = 1;
    }
  }
  // How many lines run within the clearance of each grid point (a route through a bundle of
  // lines crosses each of them), walked in steps shorter than that; not where a line leaves its
  // node (the lead every line from that side starts at), nor where it comes into its target,
  // which routes to the same node come into as well.
  const near = new Uint8Array(nx * ny);
  const stamp = new Int32Array(nx * ny);
  let marked = 0;
  /** @param {Point[]} line */
  const markNear = (line) => {
    marked++;
    const [first, last] = [line[0], line[line.length - 1]];
    for (let k = 1; k < line.length; k++) {
      const [p, q] = [line[k - 1], line[k]];
      const steps = Math.max(1, Math.ceil(Math.hypot(q[0] - p[0], q[1] - p[1]) / (c / 2)));
      for (let s = 0; s <= steps; s++) {
        const x = p[0] + ((q[0] - p[0]) * s) / steps;
        const y = p[1] + ((q[1] - p[1]) * s) / steps;
        if (Math.hypot(x - first[0], y - first[1]) <= c || Math.hypot(x - last[0], y - last[1]) < 3 * c) continue;
        for (let i = lowerBound(xs, x - c / 2); i < nx && xs[i] <= x + c / 2; i++) {
          for (let j = lowerBound(ys, y - c / 2); j < ny && ys[j] <= y + c / 2; j++) {
            const v = i * ny + j;
            if (stamp[v] === marked) continue;
            stamp[v] = marked;
            near[v] = Math.min(255, near[v] + 1);
          }
        }
      }
    }
  };
  for (const line of drawn) markNear(line);
  // Beside a node's left and right sides, where lines come in and go out at its middle height:
  // a route running up or down there would cross them all (except a route to or from that node).
  const beside = new Int32Array(nx * ny).fill(-1);
  for (const [k, b] of sides.entries()) {
    const mid = snap(b.y + b.height / 2);
    for (const [x0, x1] of [
      [b.x - 3 * c, b.x - c / 2],
      [b.x + b.width + c / 2, b.x + b.width + 3 * c],
    ]) {
      for (let i = lowerBound(xs, x0); i < nx && xs[i] <= x1; i++) {
        for (let j = lowerBound(ys, b.y); j < ny && ys[j] <= b.y + b.height; j++) if (ys[j] !== mid && beside[i * ny + j] === -1) beside[i * ny + j] = k;
      }
    }
  }
  /** Runs that earlier routes took: downwards from a grid point, then rightwards from one. */
  const used = new Uint8Array(2 * nx * ny);
  /** @param {number} v @param {number} w neighbouring grid points */
  const runOf = (v, w) => Math.min(v, w) + (Math.abs(w - v) === 1 ? 0 : nx * ny);
  // What each search has found, kept between searches and told apart by a generation number.
  const states = nx * ny * 4;
  const cost = new Float64Array(states);
  const parent = new Int32Array(states);
  const generation = new Uint32Array(states);
  let searchNumber = 0;
  /** Steps taken by this drawing's searches so far. */
  let spent = 0;

  /** @param {Point} p */
  const vertexOf = (p) => {
    const i = xIndex.get(snap(p[0]));
    const j = yIndex.get(snap(p[1]));
    return i === undefined || j === undefined ? -1 : i * ny + j;
  };
  /** The direction from one point to another along an axis. @param {Point} from @param {Point} to */
  const dirOf = (from, to) => (to[0] > from[0] ? 0 : to[1] > from[1] ? 1 : to[0] < from[0] ? 2 : 3);

  /**
   * A cheap route (the cheapest or close to it) from one of `starts` to one of `ends`, as the
   * corner points of the line (from a start's port to an end's port); undefined when every way
   * is closed. The route's runs are then taken, so later routes avoid them.
   * @param {Port[]} starts
   * @param {Port[]} ends
   * @param {number[]} [own] the route's own nodes, as indices into `sides`
   * @returns {Point[] | undefined}
   */
  function route(starts, ends, own = []) {
    const found = searchOnce(starts, ends, own, Math.min(spent < o.budget ? o.searchBudget : 0, o.budget - spent));
    return found === 'over budget' ? /** @type {Point[] | undefined} */ (searchOnce(starts, ends, own, -1)) : found;
  }

  /**
   * One search, counting its steps against the drawing's budget; `limit` -1 for a plain search
   * (keeping clear of boxes only, trusting its estimate more), which stops on its own quickly.
   * @param {Port[]} starts
   * @param {Port[]} ends
   * @param {number[]} own
   * @param {number} limit
   * @returns {Point[] | undefined | 'over budget'}
   */
  function searchOnce(starts, ends, own, limit) {
    const plain = limit < 0;
    const greed = plain ? 2 * o.greed : o.greed;
    let steps = 0;
    searchNumber++;
    const heap = new Heap();
    const goals = ends
      .map((e) => ({ e, v: vertexOf(e.lead), dir: dirOf(e.lead, e.port), extra: Math.hypot(e.port[0] - e.lead[0], e.port[1] - e.lead[1]) + e.cost }))
      .filter((g) => g.v >= 0 && !blocked[g.v]);
    if (goals.length === 0) return undefined;
    /** Manhattan distance to the nearest goal (never more than the way there costs), weighted. @param {number} v */
    const estimate = (v) => {
      const x = xs[Math.floor(v / ny)];
      const y = ys[v % ny];
      let h = Infinity;
      for (const g of goals) h = Math.min(h, Math.abs(x - g.e.lead[0]) + Math.abs(y - g.e.lead[1]));
      return h * greed;
    };
    /** @param {number} state @param {number} g @param {number} from @param {number} v */
    const reach = (state, g, from, v) => {
      if (generation[state] === searchNumber && cost[state] <= g) return;
      generation[state] = searchNumber;
      cost[state] = g;
      parent[state] = from;
      heap.push(g + estimate(v), state);
    };
    /** @type {Map<number, Port>} */
    const startOf = new Map();
    for (const s of starts) {
      const v = vertexOf(s.lead);
      if (v < 0 || blocked[v]) continue;
      const state = v * 4 + dirOf(s.port, s.lead);
      const g = Math.hypot(s.lead[0] - s.port[0], s.lead[1] - s.port[1]) + s.cost;
      if (generation[state] === searchNumber && cost[state] <= g) continue;
      startOf.set(state, s);
      reach(state, g, -1, v);
    }
    let best = Infinity;
    let bestState = -1;
    /** @type {(typeof goals)[number] | undefined} */
    let bestGoal;
    while (heap.size > 0) {
      const f = heap.top;
      const state = heap.pop();
      if (f >= best) break;
      if (!plain && ++steps > limit) {
        spent += steps;
        return 'over budget';
      }
      const v = Math.floor(state / 4);
      const g = cost[state];
      if (f > g + estimate(v) + 1e-9) continue; // reached more cheaply since
      const dir = state % 4;
      for (const goal of goals) {
        if (goal.v !== v) continue;
        const total = g + (dir === goal.dir ? 0 : o.bend) + goal.extra;
        if (total < best) {
          best = total;
          bestState = state;
          bestGoal = goal;
        }
      }
      const i = Math.floor(v / ny);
      const j = v % ny;
      for (let d = 0; d < 4; d++) {
        if (d === (dir + 2) % 4) continue;
        const ni = i + DX[d];
        const nj = j + DY[d];
        if (ni < 0 || nj < 0 || ni >= nx || nj >= ny) continue;
        const w = ni * ny + nj;
        if (blocked[w]) continue;
        const len = Math.abs(xs[ni] - xs[i]) + Math.abs(ys[nj] - ys[j]);
        const crowd = plain ? 0 : near[w] + (beside[w] !== -1 && !own.includes(beside[w]) ? 1 : 0);
        const shared = plain || !used[runOf(v, w)] ? 0 : len * o.shared;
        reach(w * 4 + d, g + len + (d === dir ? 0 : o.bend) + shared + o.near * crowd, state, w);
      }
    }
    spent += steps;
    if (!bestGoal) return undefined;
    /** @type {number[]} */
    const chain = [];
    for (let s = bestState; s !== -1; s = parent[s]) chain.push(s);
    chain.reverse();
    const vertices = chain.map((s) => Math.floor(s / 4));
    for (let k = 1; k < vertices.length; k++) used[runOf(vertices[k - 1], vertices[k])] = 1;
    const start = /** @type {Port} */ (startOf.get(chain[0]));
    /** @type {Point[]} */
    const points = straighten([start.port, ...vertices.map((v) => /** @type {Point} */ ([xs[Math.floor(v / ny)], ys[v % ny]])), bestGoal.e.port]);
    markNear(points);
    return points;
  }

  return { route };
}

/**
 * Drops repeated points and the points in the middle of a straight run.
 * @param {Point[]} points
 * @returns {Point[]}
 */
function straighten(points) {
  /** @type {Point[]} */
  const distinct = points.filter((p, i) => i === 0 || p[0] !== points[i - 1][0] || p[1] !== points[i - 1][1]);
  /** @type {Point[]} */
  const out = [distinct[0]];
  for (let i = 1; i < distinct.length - 1; i++) {
    const [p, q, s] = [out[out.length - 1], distinct[i], distinct[i + 1]];
    const collinear = (p[0] === q[0] && q[0] === s[0]) || (p[1] === q[1] && q[1] === s[1]);
    if (!collinear) out.push(q);
  }
  if (distinct.length > 1) out.push(distinct[distinct.length - 1]);
  return out;
}
