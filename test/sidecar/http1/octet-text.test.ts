import t from 'tap';
import { octetText } from '../../../sidecar/http1/octet-text.ts';

const octets = (s: string): string => Buffer.from(s, 'utf8').toString('latin1');

void t.test('ASCII is returned as it is', async (t) => {
  t.equal(octetText(''), '');
  t.equal(octetText('application/json; charset=utf-8'), 'application/json; charset=utf-8');
});

void t.test('octets that are valid UTF-8 read as UTF-8', async (t) => {
  t.equal(octetText(octets('café')), 'café');
  t.equal(octetText(octets('日本語 ☕ 🎉')), '日本語 ☕ 🎉', 'three- and four-octet sequences');
});

void t.test('other obs-text stays one char per octet', async (t) => {
  t.equal(octetText('\xe9t\xe9'), 'été', 'latin1 text that is no UTF-8');
  t.equal(octetText(octets('café').slice(0, -1)), 'caf\xc3', 'a sequence cut short');
  t.equal(octetText('\xc0\xaf'), '\xc0\xaf', 'an overlong encoding is not UTF-8');
  t.equal(octetText('\xed\xa0\x80'), '\xed\xa0\x80', 'a surrogate is not UTF-8');
});
