/** Filter cost limits: what compileFilter refuses before running, and the run-time budget. */
import t from 'tap';
import { compileFilter, isCompiledFilter, type CompiledFilter } from '../../../collector/filter/compile.ts';
import { COL_ERR_FILTER_BUDGET, COL_ERR_FILTER_COST, COL_ERR_FILTER_REGEX_SIZE, COL_ERR_FILTER_TOO_COMPLEX, isFilterError } from '../../../collector/filter/errors.ts';
import { DEFAULT_FILTER_LIMITS } from '../../../collector/filter/limits.ts';
import { countNodes } from '../../../collector/filter/cost.ts';
import { buildSqlPushdown } from '../../../collector/filter/pushdown.ts';
import { parse } from '@bufbuild/cel';
import { isMeshtapError } from '../../../lib/errors.ts';
import { callRecord } from '../helpers.ts';

function compiled(_t: unknown, source: string, options: Parameters<typeof compileFilter>[1] = {}): CompiledFilter {
  const f = compileFilter(source, options);
  if (!isCompiledFilter(f)) throw new Error(`${source} should compile: ${f.message}`);
  return f;
}

/** The error `matches` throws, or undefined. */
function thrown(run: () => unknown): unknown {
  try {
    run();
    return undefined;
  } catch (err) {
    return err;
  }
}

const REPLACE_CHAIN = 'path.replace("", path).replace("", path).replace("", path).replace("", path).replace("", path) == ""';

void t.test('the replace chain is refused before it runs, naming the limit', async (t) => {
  const started = process.hrtime.bigint();
  const result = compileFilter(REPLACE_CHAIN);
  t.ok(isFilterError(result), 'an error value');
  if (!isFilterError(result)) return;
  t.equal(result.code, COL_ERR_FILTER_COST);
  t.match(result.message, /replace\(\) may build a string of up to \d+ characters, over the limit of 1048576 \(maxStringLength/);
  t.equal(result.position.column, 5, 'points at the first replace');
  t.ok(process.hrtime.bigint() > started, 'answered');
});

void t.test('string growth within the estimate compiles; what grows past it does not', async (t) => {
  for (const ok of ['path.replace("/", "-") == "x"', 'response.body + request.body != ""', 'request.body.split(",").join(";") != ""', 'path.replace("", "x") != ""']) {
    t.ok(isCompiledFilter(compileFilter(ok)), ok);
  }
  for (const bad of ['path.replace("/", path) == ""', '[path, path].map(x, x.replace("", response.body)).size() > 0', 'response.body.split("").join(response.body) != ""']) {
    const r = compileFilter(bad);
    t.equal(isFilterError(r) && r.code, COL_ERR_FILTER_COST, bad);
  }
});

void t.test('nested macros over long lists are refused by their estimated iterations', async (t) => {
  const r = compileFilter('request.body.split("").all(a, request.body.split("").all(b, a != b))');
  t.equal(isFilterError(r) && r.code, COL_ERR_FILTER_COST);
  if (isFilterError(r)) t.match(r.message, /iterations for one record, over the limit of 2000000 \(maxEvalSteps/);
  t.ok(isCompiledFilter(compileFilter('request.headers.exists(h, h.startsWith("x-"))')), 'one macro over headers is fine');
});

void t.test('an expression with too many nodes is too complex', async (t) => {
  const big = `status_code in [${Array.from({ length: 1100 }, (_, i) => i).join(',')}]`;
  t.ok(big.length < DEFAULT_FILTER_LIMITS.maxSourceLength, 'short enough as text');
  const r = compileFilter(big);
  t.equal(isFilterError(r) && r.code, COL_ERR_FILTER_TOO_COMPLEX);
  if (isFilterError(r)) t.match(r.message, /more than 1000 nodes \(maxAstNodes\)/);
  t.ok(isCompiledFilter(compileFilter(Array.from({ length: 100 }, (_, i) => `status_code == ${i}`).join(' || '))), '100 alternatives are fine');
});

void t.test('a regular expression over the RE2 program size is refused', async (t) => {
  const r = compileFilter('path.matches("[a-z]{1000}")');
  t.equal(isFilterError(r) && r.code, COL_ERR_FILTER_REGEX_SIZE);
  if (isFilterError(r)) {
    t.match(r.message, /RE2 program of 1002 instructions, over the limit of 1000 \(maxRegexProgram\)/);
    t.equal(r.position.column, 14, 'points at the pattern');
  }
  const long = compileFilter(`path.matches("${'a'.repeat(2000)}")`);
  t.equal(isFilterError(long) && long.code, COL_ERR_FILTER_REGEX_SIZE, 'too long a pattern');
  t.ok(isCompiledFilter(compileFilter('path.matches("^/orders/[0-9]{1,12}$")')), 'an ordinary pattern');

  // A pattern built at run time is held to the same limit: that record fails, as a bad pattern does.
  const failures: string[] = [];
  const dynamic = compiled(t, 'path.matches(request.body)', { onEvalFailure: (f) => failures.push(f.message) });
  t.equal(dynamic.matches(callRecord({ id: 'r', path: '/a', requestBody: '[a-z]{1000}' })), false);
  t.match(failures[0], /maxRegexProgram/);
});

void t.test('the run-time budget stops an evaluation over it with a clear error', async (t) => {
  const record = callRecord({ id: 'big', path: '/x', requestBody: 'x'.repeat(20_000) });
  const filter = compiled(t, 'request.body.split("").exists(c, c == "#")');
  let evaluated = 0;
  const err = thrown(() => {
    for (let i = 0; i < 1000; i++) {
      filter.matches(record);
      evaluated++;
    }
  });
  t.ok(isMeshtapError(err, COL_ERR_FILTER_BUDGET), 'a COL_ERR_FILTER_BUDGET error');
  t.match((err as Error).message, /exceeded the evaluation budget of 2000000 steps \(maxEvalSteps\)/);
  t.ok(evaluated >= 40 && evaluated < 60, `stopped after about 2 000 000 / 40 000 records (${evaluated})`);
  t.ok(isMeshtapError(thrown(() => filter.matches(callRecord({ id: 'small', requestBody: 'a' }))), COL_ERR_FILTER_BUDGET), 'stays spent');
  filter.budget.reset();
  t.equal(filter.matches(callRecord({ id: 'small', requestBody: '#' })), true, 'a reset budget evaluates again');

  // `||` absorbs the error value inside evaluation; the budget still ends it.
  const absorbed = compiled(t, 'request.body.split("").exists(c, c == "#") || true', { limits: { maxEvalSteps: 70_000 } });
  t.equal(absorbed.matches(record), true, 'within the budget');
  t.ok(isMeshtapError(thrown(() => absorbed.matches(record)), COL_ERR_FILTER_BUDGET), 'over it');

  // A string over the size limit is never built, even when the record is bigger than the estimate assumed.
  const doubling = compiled(t, 'path + path != ""', { limits: { maxStringLength: 10_000 } });
  t.equal(doubling.matches(callRecord({ id: 'short', path: '/short' })), true);
  const big = thrown(() => doubling.matches(callRecord({ id: 'long', path: '/'.repeat(6000) })));
  t.ok(isMeshtapError(big, COL_ERR_FILTER_BUDGET));
  t.match((big as Error).message, /string size limit of 10000 characters \(maxStringLength\): string '\+' would build 12000 characters/);

  // Bytes built count across records.
  const lower = compiled(t, 'request.body.lowerAscii() == ""', { limits: { maxEvalBytes: 100_000 } });
  const spent = thrown(() => {
    for (let i = 0; i < 10; i++) lower.matches(record);
  });
  t.match((spent as Error).message, /100000 bytes built \(maxEvalBytes\)/);
});

void t.test('the rebuilt string functions keep the CEL strings extension semantics', async (t) => {
  const r = callRecord({ id: 'r', path: '/a/b/c' });
  const cases = [
    'path.replace("/", "-") == "-a-b-c"',
    'path.replace("/", "", 2) == "ab/c"',
    'path.replace("/", "+", -1) == "+a+b+c"',
    'path.replace("/", "+", 0) == "/a/b/c"',
    '"abc".replace("", "-") == "-a-b-c-"',
    '"abc".replace("", "-", 2) == "-a-bc"',
    'path.split("/") == ["", "a", "b", "c"]',
    'path.split("/", 2) == ["", "a/b/c"]',
    'path.split("/", 0) == []',
    '"héllo".split("") == ["h", "é", "l", "l", "o"]',
    'path.split("/").join("|") == "|a|b|c"',
    '["x", "y"].join() == "xy"',
    'path + "?" == "/a/b/c?"',
    '[1, 2] + [3] == [1, 2, 3]',
    '[1, 2, 3].map(x, x * 2) == [2, 4, 6]',
    '[1, 2, 3].filter(x, x > 1) == [2, 3]',
    '"MiXeD".lowerAscii() == "mixed" && "MiXeD".upperAscii() == "MIXED"',
    'b"ab" + b"c" == b"abc"',
  ];
  for (const source of cases) t.equal(compiled(t, source).matches(r), true, source);
});

void t.test('pushdown translates only what compileFilter accepts', async (t) => {
  const big = parse(Array.from({ length: 600 }, (_, i) => `status_code == ${i}`).join(' || '));
  t.same(buildSqlPushdown({ ast: big.expr }), { where: '1', params: [], residual: true }, 'over the node limit: nothing pushed');
  const small = buildSqlPushdown(compiled(t, 'status_code == 1 || status_code == 2'));
  t.equal(small.residual, false);
});

void t.test('countNodes counts every node, and stops one past the cap', async (t) => {
  const expr = parse('a + b * c').expr!;
  t.equal(countNodes(expr, 100), 5, 'two calls and three identifiers');
  t.equal(countNodes(expr, 5), 5, 'exactly at the cap');
  t.equal(countNodes(expr, 2), 3, 'past the cap: stops at cap + 1');
});
