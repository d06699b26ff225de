import t from 'tap';
import { compileFilter, isCompiledFilter } from '../../../collector/filter/compile.ts';
import { COL_ERR_FILTER_TYPE, isFilterError } from '../../../collector/filter/errors.ts';

// Header and trailer names are stored lower-case: a literal name with capitals never matches.
const REFUSED: Array<{ filter: string; offset: number; write: string }> = [
  { filter: 'request.headers["X-Walk2"] == "m"', offset: 16, write: 'request.headers["x-walk2"]' },
  { filter: 'http && response.trailers["Grpc-Status"] == "0"', offset: 26, write: 'response.trailers["grpc-status"]' },
  { filter: 'call.request.headers[\'Accept\'] != ""', offset: 21, write: 'call.request.headers["accept"]' },
  { filter: '"X-Walk2" in request.headers', offset: 0, write: '"x-walk2" in request.headers' },
  { filter: 'http && "Te" in request.trailers', offset: 8, write: '"te" in request.trailers' },
  { filter: 'has(request.headers.Accept)', offset: 20, write: 'has(request.headers.accept)' },
  { filter: 'response.headers.Server == "x"', offset: 17, write: 'response.headers.server' },
  { filter: 'request.headers.exists(h, h == "X-Walk2")', offset: 31, write: 'h == "x-walk2"' },
  { filter: 'request.headers.exists(h, "Accept" == h)', offset: 26, write: 'h == "accept"' },
  { filter: 'request.headers.all(name, name != "X-Walk2")', offset: 34, write: 'name != "x-walk2"' },
  { filter: 'request.headers.exists(h, h.startsWith("X-"))', offset: 39, write: 'h.startsWith("x-")' },
  { filter: 'request.headers.exists(h, h in ["Accept", "x-a"])', offset: 32, write: 'h in ["accept", "x-a"]' },
];

void t.test('a header name with capitals is refused, with the lower-case spelling and its position', async (t) => {
  for (const { filter, offset, write } of REFUSED) {
    const f = compileFilter(filter);
    if (!isFilterError(f)) {
      t.fail(`${filter} compiled`);
      continue;
    }
    t.equal(f.code, COL_ERR_FILTER_TYPE, filter);
    t.equal(f.message.replace(/ at line \d+, column \d+$/, ''), `header names are lower-case in records: write ${write}`, filter);
    t.equal(f.position?.offset, offset, `${filter}: points at the name`);
  }
});

void t.test('lower-case names, other maps and names built at run time still compile', async (t) => {
  for (const filter of [
    'request.headers["x-walk2"] == "m"',
    '"x-walk2" in request.headers',
    'has(request.headers.accept)',
    'request.headers.exists(h, h == "x-walk2")',
    'request.headers.exists(h, h.upperAscii() == "ACCEPT")',
    'src.labels["App"] == "frontend"',
    '"Version" in dst.labels',
    'request.headers["x-" + "a"] == "b"',
    'request.headers.exists(h, request.headers[h] == "Mixed-Case")',
    'request.headers["content-type"].contains("JSON")',
  ]) {
    const f = compileFilter(filter);
    t.ok(isCompiledFilter(f), `${filter}${isFilterError(f) ? `: ${f.message}` : ''}`);
  }
});
