/**
 * `find(p)` (the first match at or after `p`, or -1) with its last answer remembered: asked
 * about positions left to right, each search starts past the last match, so the searches read
 * the text about once however many times they are asked.
 */
export function nextMatch(find: (from: number) => number): (from: number) => number {
  let searchedFrom = Number.POSITIVE_INFINITY;
  let at = -1;
  return (from) => {
    if (from >= searchedFrom && (at === -1 || at >= from)) return at;
    searchedFrom = from;
    at = find(from);
    return at;
  };
}
