import t from 'tap';
import { closestMatch, editDistance } from '../../lib/edit-distance.ts';

void t.test('edit distance', async (t) => {
  t.equal(editDistance('', ''), 0);
  t.equal(editDistance('abc', ''), 3);
  t.equal(editDistance('', 'abc'), 3);
  t.equal(editDistance('kitten', 'sitting'), 3);
  t.equal(editDistance('stauts_code', 'status_code'), 2, 'a transposition costs two');
  t.equal(editDistance('namespace', 'namespace'), 0);
  t.equal(editDistance('flaw', 'lawn'), 2);
  t.equal(editDistance('ab', 'ba'), editDistance('ba', 'ab'), 'symmetric');
});

void t.test('closest match', async (t) => {
  const names = ['status_code', 'method', 'namespace', 'path'];
  t.equal(closestMatch('stauts_code', names, { maxDistance: 3 }), 'status_code');
  t.equal(closestMatch('xyz', names, { maxDistance: 1 }), undefined, 'too far');
  t.equal(closestMatch('pathh', names, { maxDistance: 1 }), 'path', 'exactly at the limit');
  t.equal(closestMatch('METHOD', names, { maxDistance: 0 }), undefined, 'case counts by default');
  t.equal(closestMatch('METHOD', names, { maxDistance: 0, ignoreCase: true }), 'method', 'case ignored, candidate returned as spelt');
  t.equal(closestMatch('ab', ['ax', 'ay'], { maxDistance: 1 }), 'ax', 'first of a tie');
  t.equal(closestMatch('a', [], { maxDistance: 5 }), undefined, 'no candidates');
});
