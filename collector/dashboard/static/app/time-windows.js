// The time windows the aggregate views (service map, coverage) offer: one list, so both offer
// the same choices. Each: its label and its length in seconds.

/** @type {ReadonlyArray<readonly [string, number]>} */
export const TIME_WINDOWS = [
  ['5m', 5 * 60],
  ['15m', 15 * 60],
  ['1h', 60 * 60],
  ['24h', 24 * 60 * 60],
];

/** The window the views open with when the address names none. */
export const DEFAULT_WINDOW = '15m';

/**
 * A window's length in seconds, by its label; the default's for an unknown label.
 * @param {string | undefined} label
 */
export const windowSeconds = (label) => (TIME_WINDOWS.find(([l]) => l === label) ?? TIME_WINDOWS.find(([l]) => l === DEFAULT_WINDOW) ?? TIME_WINDOWS[0])[1];
