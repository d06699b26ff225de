// The time windows the aggregate views (service map, coverage) offer: one list, so both offer
// the same choices. Each: its label and its length in seconds.

/** @type {ReadonlyArray<readonly [string, number]>} */
export const TIME_WINDOWS = [
  ['5m', 5 * 60],
  ['15m', 15 * 60],
  ['1h', 60 * 60],
  ['24h', 24 * 60 * 60],
];
