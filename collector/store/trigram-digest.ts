/**
 * The text the full-text index gets for one ingest batch: every distinct trigram of the
 * batch's paths and bodies, once.
 *
 * FTS5's trigram tokenizer costs about the same for every character it reads, and a batch of
 * records of one API repeats most of its trigrams (the same keys, the same shapes), so
 * indexing each distinct trigram once per batch instead of every trigram of every record cuts
 * the index work by one to two orders of magnitude. The index then says which batch holds a
 * text, not which record; searches check every record of a matching batch with the compiled
 * filter, which they do anyway, because the index only has to give a superset.
 *
 * New trigrams are emitted in text order, and a run of new trigrams at consecutive positions
 * is emitted as the substring it came from (`abcd` rather than `abc bcd`), so the digest reads
 * far fewer characters than three per trigram. A trigram across two pieces is harmless: it
 * can only add candidates.
 */

/** One bit per trigram of three ASCII characters (2^21 trigrams). */
const ASCII_WORDS = (1 << 21) >>> 5;

/** Any surrogate code unit: such a text takes the general path (pairs are one character). */
const SURROGATE = /[\uD800-\uDFFF]/;

export interface TrigramDigest {
  /** Appends to `out` pieces of text that together hold every trigram of `text` not yet seen. */
  add(text: string, out: string[]): void;
  /** Forgets every trigram seen (the next batch starts empty). */
  reset(): void;
}

export function createTrigramDigest(): TrigramDigest {
  const ascii = new Uint32Array(ASCII_WORDS);
  // Words set since the last reset: clearing them is cheaper than clearing 256 KiB.
  const touched: number[] = [];
  const others = new Set<string>();

  /** Whether the trigram spanning code units [start, end) is new; marks it seen. */
  function firstSeen(text: string, start: number, end: number): boolean {
    if (end - start === 3) {
      const a = text.charCodeAt(start);
      const b = text.charCodeAt(start + 1);
      const c = text.charCodeAt(start + 2);
      if ((a | b | c) < 128) {
        const key = (a << 14) | (b << 7) | c;
        const w = key >>> 5;
        const bit = 1 << (key & 31);
        const word = ascii[w];
        if ((word & bit) !== 0) return false;
        if (word === 0) touched.push(w);
        ascii[w] = word | bit;
        return true;
      }
    }
    const t = text.slice(start, end);
    if (others.has(t)) return false;
    others.add(t);
    return true;
  }

  /**
   * `add` for a text without surrogates (nearly every body): each code unit is a character, so
   * the trigram at `i` spans [i, i + 3) and its ASCII key rolls along with one read per step.
   */
  function addSingleUnits(text: string, out: string[]): void {
    const n = text.length;
    let runStart = -1;
    let runEnd = -1;
    let a = 0;
    let b = text.charCodeAt(0);
    let c = text.charCodeAt(1);
    for (let i = 0; i + 3 <= n; i++) {
      a = b;
      b = c;
      c = text.charCodeAt(i + 2);
      let fresh: boolean;
      if ((a | b | c) < 128) {
        const key = (a << 14) | (b << 7) | c;
        const w = key >>> 5;
        const bit = 1 << (key & 31);
        const word = ascii[w];
        fresh = (word & bit) === 0;
        if (fresh) {
          if (word === 0) touched.push(w);
          ascii[w] = word | bit;
        }
      } else {
        fresh = firstSeen(text, i, i + 3);
      }
      if (!fresh) continue;
      // Consecutive with the last new trigram: the run grows by one character.
      if (runStart >= 0 && runEnd === i + 2) {
        runEnd = i + 3;
      } else {
        if (runStart >= 0) out.push(text.slice(runStart, runEnd));
        runStart = i;
        runEnd = i + 3;
      }
    }
    if (runStart >= 0) out.push(text.slice(runStart, runEnd));
  }

  return {
    add(text, out) {
      if (!SURROGATE.test(text)) {
        addSingleUnits(text, out);
        return;
      }
      // Trigrams of code points, as the tokenizer reads them: a surrogate pair is one character.
      const n = text.length;
      const width = (i: number): number => {
        const c = text.charCodeAt(i);
        return c >= 0xd800 && c <= 0xdbff && i + 1 < n && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00 ? 2 : 1;
      };
      if (n < 3) return;
      let p0 = 0;
      let p1 = width(0);
      if (p1 >= n) return;
      let p2 = p1 + width(p1);
      if (p2 >= n) return;
      let p3 = p2 + width(p2);
      let runStart = -1;
      let runEnd = -1;
      for (;;) {
        if (firstSeen(text, p0, p3)) {
          // Consecutive with the last new trigram: the run grows by one character.
          if (runStart >= 0 && runEnd === p2) {
            runEnd = p3;
          } else {
            if (runStart >= 0) out.push(text.slice(runStart, runEnd));
            runStart = p0;
            runEnd = p3;
          }
        }
        if (p3 >= n) break;
        p0 = p1;
        p1 = p2;
        p2 = p3;
        p3 = p2 + width(p2);
      }
      if (runStart >= 0) out.push(text.slice(runStart, runEnd));
    },
    reset() {
      for (const w of touched) ascii[w] = 0;
      touched.length = 0;
      others.clear();
    },
  };
}
