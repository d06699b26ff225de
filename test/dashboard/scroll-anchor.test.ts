/** Keeping the reader's place in the live list, run in Node as in the page. */
import t from 'tap';
import { loadBrowserModule } from './browser-modules.ts';

const { anchorAt, anchoredTop } = await loadBrowserModule('scroll-anchor.js');
const rows = (...keys: string[]) => keys.map((key) => ({ key }));

void t.test('the row at the top of the window is found again wherever it went', async (t) => {
  const before = rows('d', 'c', 'b', 'a');
  const anchor = anchorAt(before, 2 * 30 + 7, 30);
  t.same(anchor, { key: 'b', offset: 7 });
  t.equal(anchoredTop(rows('f', 'e', 'd', 'c', 'b', 'a'), anchor, 30), 4 * 30 + 7, 'two rows arrived on top');
  t.equal(anchoredTop(rows('a', 'd', 'c', 'b'), anchor, 30), 3 * 30 + 7, 'a row from below moved on top');
  t.equal(anchoredTop(rows('d', 'c', 'b', 'a'), anchor, 30), 2 * 30 + 7, 'nothing above changed');
  t.equal(anchoredTop(rows('x'), anchor, 30), undefined, 'the row is gone');
  t.equal(anchorAt(before, 0, 30), undefined, 'at the very top the reader watches new rows arrive');
  t.equal(anchorAt([], 90, 30), undefined);
  t.equal(anchoredTop(before, undefined, 30), undefined);
});
