// Keeping a reader's place in the live list: new calls arrive on top, a call's second record
// moves its row to the top, and a partner record is put beside its row, so the row under the
// reader's eye moves down by a number of rows no count of records says. The list remembers
// which row is at the top of its window (by key) and, after every change, scrolls to where that
// row is now. Pure: the table reads and writes `scrollTop`.

/**
 * @typedef {{ key: string, offset: number }} Anchor the row at the top of the window, and how
 *   many px of it are scrolled past
 */

/**
 * The row at the top of a window scrolled to `scrollTop`; none at the very top, where the
 * reader watches new calls arrive.
 * @param {ReadonlyArray<{ key: string }>} rows
 * @param {number} scrollTop
 * @param {number} rowHeight
 * @returns {Anchor | undefined}
 */
export function anchorAt(rows, scrollTop, rowHeight) {
  if (scrollTop <= 0 || rows.length === 0) return undefined;
  const index = Math.min(rows.length - 1, Math.floor(scrollTop / rowHeight));
  return { key: rows[index].key, offset: scrollTop - index * rowHeight };
}

/**
 * Where to scroll for `anchor`'s row to be where it was; undefined when there is no anchor or
 * its row is gone (cleared, dropped by the list's capacity, another filter).
 * @param {ReadonlyArray<{ key: string }>} rows
 * @param {Anchor | undefined} anchor
 * @param {number} rowHeight
 * @returns {number | undefined}
 */
export function anchoredTop(rows, anchor, rowHeight) {
  if (anchor === undefined) return undefined;
  const index = rows.findIndex((r) => r.key === anchor.key);
  return index < 0 ? undefined : index * rowHeight + anchor.offset;
}
