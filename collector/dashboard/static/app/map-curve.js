// The drawn lines of the service map's edges: an S-curve between facing sides, an arc below two
// nodes, a loop for a self call, or a routed polyline with rounded corners. Each comes with the
// polyline it runs along (its points), from which the layout finds places for labels and checks
// what the line runs through. Pure, tested in Node through the layout.

/**
 * @typedef {[number, number]} Point
 * @typedef {{ x: number, y: number, width: number, height: number }} Box
 * @typedef {{ path: string, points: Point[], routed: boolean }} Curve
 */

/** Points kept per drawn Bézier segment: plenty for crossing checks at map scale. */
const BEZIER_STEPS = 32;
/** Control point distance for a cubic that draws a quarter circle. */
const QUARTER = 0.5523;

/** One decimal is finer than a pixel and keeps paths short. */
const r1 = (/** @type {number} */ v) => Math.round(v * 10) / 10;

/** @param {number} a @param {number} b @param {number} c @param {number} d @param {number} t */
const cubic = (a, b, c, d, t) => (1 - t) ** 3 * a + 3 * (1 - t) ** 2 * t * b + 3 * (1 - t) * t ** 2 * c + t ** 3 * d;

/**
 * @param {Point} p0 @param {Point} p1 @param {Point} p2 @param {Point} p3
 * @returns {Point[]} from just after p0 to p3
 */
function cubicPoints(p0, p1, p2, p3) {
  /** @type {Point[]} */
  const out = [];
  for (let i = 1; i <= BEZIER_STEPS; i++) {
    const t = i / BEZIER_STEPS;
    out.push([cubic(p0[0], p1[0], p2[0], p3[0], t), cubic(p0[1], p1[1], p2[1], p3[1], t)]);
  }
  return out;
}

/**
 * From one node's right side to another's left side, leaving and arriving level.
 * @param {Point} from
 * @param {Point} to
 * @returns {Curve}
 */
export function sCurve(from, to) {
  const dx = (to[0] - from[0]) / 2;
  /** @type {[Point, Point, Point, Point]} */
  const c = [from, [from[0] + dx, from[1]], [to[0] - dx, to[1]], to];
  return { path: `M ${r1(c[0][0])} ${r1(c[0][1])} C ${c.slice(1).map((p) => `${r1(p[0])} ${r1(p[1])}`).join(' ')}`, points: [from, ...cubicPoints(...c)], routed: false };
}

/**
 * From the bottom of one node to the bottom of another, dipping to `dip`.
 * @param {Point} from
 * @param {Point} to
 * @param {number} dip
 * @returns {Curve}
 */
export function dipCurve(from, to, dip) {
  /** @type {[Point, Point, Point, Point]} */
  const c = [from, [from[0], dip], [to[0], dip], to];
  return { path: `M ${r1(from[0])} ${r1(from[1])} C ${c.slice(1).map((p) => `${r1(p[0])} ${r1(p[1])}`).join(' ')}`, points: [from, ...cubicPoints(...c)], routed: false };
}

/**
 * A small loop above a node's top side, for a workload calling itself.
 * @param {Point} at where the loop starts on the node's top side
 * @returns {Curve}
 */
export function loopCurve(at) {
  const [x, y] = at;
  return { path: `M ${r1(x)} ${r1(y)} c 0 -30 36 -30 36 0`, points: [at, ...cubicPoints(at, [x, y - 30], [x + 36, y - 30], [x + 36, y])], routed: false };
}

/**
 * A polyline of horizontal and vertical runs, drawn with rounded corners.
 * @param {Point[]} points at least two
 * @param {number} radius
 * @returns {Curve}
 */
export function polylineCurve(points, radius) {
  const fmt = (/** @type {Point} */ p) => `${r1(p[0])} ${r1(p[1])}`;
  let path = `M ${fmt(points[0])}`;
  for (let i = 1; i < points.length - 1; i++) {
    const [p, q, s] = [points[i - 1], points[i], points[i + 1]];
    const inLen = Math.hypot(q[0] - p[0], q[1] - p[1]);
    const outLen = Math.hypot(s[0] - q[0], s[1] - q[1]);
    const r = Math.min(radius, inLen / 2, outLen / 2);
    /** @type {Point} */
    const u = [(q[0] - p[0]) / inLen, (q[1] - p[1]) / inLen];
    /** @type {Point} */
    const v = [(s[0] - q[0]) / outLen, (s[1] - q[1]) / outLen];
    /** @type {Point} */
    const a = [q[0] - u[0] * r, q[1] - u[1] * r];
    /** @type {Point} */
    const b = [q[0] + v[0] * r, q[1] + v[1] * r];
    path += ` L ${fmt(a)} C ${fmt([a[0] + u[0] * r * QUARTER, a[1] + u[1] * r * QUARTER])} ${fmt([b[0] - v[0] * r * QUARTER, b[1] - v[1] * r * QUARTER])} ${fmt(b)}`;
  }
  path += ` L ${fmt(points[points.length - 1])}`;
  return { path, points, routed: true };
}

/**
 * How long a curve is.
 * @param {Curve} curve
 */
export function curveLength(curve) {
  const pts = curve.points;
  let total = 0;
  for (let i = 1; i < pts.length; i++) total += Math.hypot(pts[i][0] - pts[i - 1][0], pts[i][1] - pts[i - 1][1]);
  return total;
}

/**
 * The point a fraction `t` of the way along a curve, by length.
 * @param {Curve} curve
 * @param {number} t
 * @returns {Point}
 */
export function pointAlong(curve, t) {
  return pointAt(curve, curveLength(curve) * t);
}

/**
 * The point `distance` along a curve from its start.
 * @param {Curve} curve
 * @param {number} distance
 * @returns {Point}
 */
export function pointAt(curve, distance) {
  const pts = curve.points;
  let left = Math.max(0, distance);
  for (let i = 1; i < pts.length; i++) {
    const len = Math.hypot(pts[i][0] - pts[i - 1][0], pts[i][1] - pts[i - 1][1]);
    if (left <= len && len > 0) {
      const f = left / len;
      return [pts[i - 1][0] + (pts[i][0] - pts[i - 1][0]) * f, pts[i - 1][1] + (pts[i][1] - pts[i - 1][1]) * f];
    }
    left -= len;
  }
  return pts[pts.length - 1];
}

/**
 * Whether the segment from p to q enters the box grown by `pad` on every side (clipping, so a
 * segment that passes through without an end inside counts).
 * @param {Point} p
 * @param {Point} q
 * @param {Box} box
 * @param {number} pad
 */
export function segmentHitsBox(p, q, box, pad) {
  const [x0, y0, x1, y1] = [box.x - pad, box.y - pad, box.x + box.width + pad, box.y + box.height + pad];
  let lo = 0;
  let hi = 1;
  const dx = q[0] - p[0];
  const dy = q[1] - p[1];
  for (const [d, near, far, start] of /** @type {Array<[number, number, number, number]>} */ ([
    [dx, x0, x1, p[0]],
    [dy, y0, y1, p[1]],
  ])) {
    if (d === 0) {
      if (start <= near || start >= far) return false;
      continue;
    }
    let a = (near - start) / d;
    let b = (far - start) / d;
    if (a > b) [a, b] = [b, a];
    lo = Math.max(lo, a);
    hi = Math.min(hi, b);
    if (lo >= hi) return false;
  }
  return true;
}

/**
 * Whether a curve runs through any of the boxes grown by `pad`.
 * @param {Curve} curve
 * @param {Box[]} boxes
 * @param {number} pad
 */
export function runsThrough(curve, boxes, pad) {
  const pts = curve.points;
  for (let i = 1; i < pts.length; i++) for (const b of boxes) if (segmentHitsBox(pts[i - 1], pts[i], b, pad)) return true;
  return false;
}
