/** Optional whitespace trimming, over a whole string or a range of it (header values are trimmed in place of `line.slice(colon + 1)`). */
import t from 'tap';
import { trimOws } from '../../../sidecar/http1/ows.ts';

void t.test('trims SP and HTAB only, from both ends', async (t) => {
  t.equal(trimOws(' \t a b \t '), 'a b');
  t.equal(trimOws('a\r'), 'a\r', 'CR is not OWS');
  t.equal(trimOws('   '), '');
  t.equal(trimOws(''), '');
  const s = 'no-trim';
  t.equal(trimOws(s), s);
});

void t.test('a range: the value after a header name, in one slice', async (t) => {
  const line = 'Content-Type: \t text/plain \t';
  t.equal(trimOws(line, line.indexOf(':') + 1), 'text/plain');
  t.equal(trimOws('X:', 2), '', 'empty value');
  t.equal(trimOws('X:v', 2), 'v');
  t.equal(trimOws('ab  cd', 1, 4), 'b', 'both bounds');
  t.equal(trimOws('abc', 0, 3), 'abc');
});
