import fc from 'fast-check';
import t from 'tap';
import { createTrigramDigest } from '../../../collector/store/trigram-digest.ts';

/** Trigrams of code points, as FTS5's trigram tokenizer reads a text. */
function trigrams(text: string): Set<string> {
  const chars = [...text];
  const out = new Set<string>();
  for (let i = 0; i + 3 <= chars.length; i++) out.add(chars.slice(i, i + 3).join(''));
  return out;
}

function digest(texts: readonly string[], reuse = createTrigramDigest()): string {
  const pieces: string[] = [];
  for (const text of texts) reuse.add(text, pieces);
  return pieces.join(' ');
}

void t.test('every trigram of every text is in the digest', async (t) => {
  const text = fc.oneof(fc.string({ maxLength: 60 }), fc.string({ unit: 'grapheme', maxLength: 30 }), fc.string({ unit: fc.constantFrom('a', 'b', 'é', '😀', '"', ' '), maxLength: 40 }));
  fc.assert(
    fc.property(fc.array(text, { maxLength: 6 }), (texts) => {
      const held = trigrams(digest(texts));
      for (const text of texts) for (const tri of trigrams(text)) if (!held.has(tri)) throw new Error(`${JSON.stringify(tri)} of ${JSON.stringify(text)} missing`);
    }),
    { numRuns: 3000 },
  );
  t.pass('checked 3000 random batches');
});

void t.test('repeated text is digested once; reset forgets', async (t) => {
  const d = createTrigramDigest();
  const body = '{"sku":"A-1","qty":2}';
  const once = digest([body], d);
  t.equal(once, body, 'a text with no repeated trigram comes out whole');
  t.equal(digest([body, body, body], d), '', 'nothing new after the first');
  d.reset();
  t.equal(digest([body], d), body, 'after reset the text is new again');
  d.reset();
  const two = digest(['abcdef', 'xxbcdyy'], d);
  t.equal(two, 'abcdef xxbc cdyy', 'only new trigrams, runs kept whole');
  d.reset();
  t.equal(digest(['a😀bc', 'x😀bc'], d), 'a😀bc x😀b', 'a surrogate pair is one character');
});

/** The digest spelled out over code points with a Set: new trigrams, consecutive ones joined into runs. */
function referenceDigest(texts: readonly string[]): string {
  const seen = new Set<string>();
  const pieces: string[] = [];
  for (const text of texts) {
    const chars = [...text];
    let run: [number, number] | undefined;
    for (let i = 0; i + 3 <= chars.length; i++) {
      const tri = chars.slice(i, i + 3).join('');
      if (seen.has(tri)) continue;
      seen.add(tri);
      if (run !== undefined && run[1] === i + 2) run[1] = i + 3;
      else {
        if (run !== undefined) pieces.push(chars.slice(run[0], run[1]).join(''));
        run = [i, i + 3];
      }
    }
    if (run !== undefined) pieces.push(chars.slice(run[0], run[1]).join(''));
  }
  return pieces.join(' ');
}

void t.test('the digest is exactly the reference, with and without surrogate pairs in the batch', async (t) => {
  const text = fc.oneof(
    fc.string({ maxLength: 80 }),
    fc.string({ unit: fc.constantFrom('a', 'b', 'c', 'é', 'ж', '"', '{', ' '), maxLength: 60 }),
    fc.string({ unit: fc.constantFrom('a', 'b', '😀', 'é'), maxLength: 40 }),
  );
  fc.assert(
    fc.property(fc.array(text, { maxLength: 8 }), (texts) => {
      const got = digest(texts);
      const want = referenceDigest(texts);
      if (got !== want) throw new Error(`${JSON.stringify(texts)}: ${JSON.stringify(got)} ≠ ${JSON.stringify(want)}`);
    }),
    { numRuns: 3000 },
  );
  t.pass('checked 3000 random batches');
});
