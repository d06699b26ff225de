/**
 * Levenshtein distance and the "did you mean" pick built on it: misspelt filter variables,
 * env variables and option names get a hint instead of a bare "unknown". One copy; pure.
 */

/** Insertions, deletions and substitutions to turn `a` into `b` (one row of the table: O(|b|) memory). */
export function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length];
}

export interface ClosestMatchOptions {
  /** The largest distance still taken for a typo (callers scale it with the name's length). */
  maxDistance: number;
  /** Compare lower-cased (the candidate is still returned as spelt). */
  ignoreCase?: boolean;
}

/** The nearest candidate (the first one on a tie) when it is within `maxDistance`, else undefined. */
export function closestMatch(name: string, candidates: Iterable<string>, options: ClosestMatchOptions): string | undefined {
  const wanted = options.ignoreCase ? name.toLowerCase() : name;
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const d = editDistance(wanted, options.ignoreCase ? candidate.toLowerCase() : candidate);
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return bestDistance <= options.maxDistance ? best : undefined;
}
