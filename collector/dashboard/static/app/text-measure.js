// How wide the service map's texts are drawn, measured by the browser on a canvas in the map's
// fonts (app.css: the map's font family, and each text's size and weight), so the layout can
// fit node boxes to their names. Widths are cached: the same names come back on every refresh.

/** @type {Record<import('./map-layout.js').TextStyle, string>} */
const FONTS = {
  name: '600 13px system-ui, sans-serif',
  meta: '11px system-ui, sans-serif',
  label: '600 11px system-ui, sans-serif',
  title: '600 12px system-ui, sans-serif',
};
/** The box titles' letter spacing (0.02em of 12 px), which the canvas does not add. */
const TITLE_SPACING = 0.24;

/** @type {Map<string, number>} */
const cache = new Map();
/** @type {CanvasRenderingContext2D | null | undefined} */
let context;

/**
 * The drawn width of `text`, or undefined where there is no canvas to measure with.
 * @type {import('./map-layout.js').TextWidth}
 */
export function measureTextWidth(text, style) {
  const key = `${style}\u0000${text}`;
  const known = cache.get(key);
  if (known !== undefined) return known;
  context ??= globalThis.document?.createElement('canvas').getContext('2d') ?? null;
  if (!context) return undefined;
  context.font = FONTS[style];
  const width = context.measureText(text).width + (style === 'title' ? TITLE_SPACING * [...text].length : 0);
  cache.set(key, width);
  return width;
}
