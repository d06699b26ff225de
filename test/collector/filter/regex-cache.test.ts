import t from 'tap';
import { createRegexCache } from '../../../collector/filter/regex-cache.ts';

void t.test('compiled patterns are reused and the cache is bounded', async (t) => {
  const cache = createRegexCache(2);
  const a = cache.compile('^a+$');
  t.equal(cache.compile('^a+$'), a, 'the same pattern gives the same matcher');
  t.ok(a.test('aaa'));
  t.notOk(a.test('ab'));
  cache.compile('b');
  cache.compile('c');
  t.not(cache.compile('^a+$'), a, 'the oldest pattern was dropped once the limit was reached');
  t.throws(() => cache.compile('('), 'a bad pattern throws here; the evaluator turns it into an error value');
});
