import t, { type Test } from 'tap';
import fc from 'fast-check';
import { compileFilter, isCompiledFilter, MAX_FILTER_LENGTH, type FilterEvalFailure } from '../../../collector/filter/compile.ts';
import {
  COL_ERR_FILTER_REGEX,
  COL_ERR_FILTER_SYNTAX,
  COL_ERR_FILTER_TOO_COMPLEX,
  COL_ERR_FILTER_TYPE,
  COL_ERR_FILTER_UNDECLARED,
  isFilterError,
  type FilterError,
} from '../../../collector/filter/errors.ts';
import type { CallRecord } from '../../../record/record.ts';
import { tokenize } from '../../../collector/filter/tokens.ts';
import { CASES } from './cases.ts';
import { RECORDS } from './fixtures.ts';

function compileOk(t: Test, source: string) {
  const f = compileFilter(source);
  if (!isCompiledFilter(f)) {
    t.fail(`expected ${JSON.stringify(source)} to compile, got ${(f as FilterError).code}: ${(f as FilterError).message}`);
    return undefined;
  }
  return f;
}

void t.test('each filter matches exactly the expected fixture records', async (t) => {
  t.ok(CASES.length >= 40, 'the table is large enough to mean something');
  for (const { filter, ids } of CASES) {
    const compiled = compileOk(t, filter);
    if (compiled === undefined) continue;
    const matched = RECORDS.filter((r) => compiled.matches(r)).map((r) => r.id);
    t.same(matched, ids, JSON.stringify(filter));
  }
});

void t.test('the table distinguishes filters: not all of them match the same records', async (t) => {
  const distinct = new Set(CASES.map((c) => c.ids.join(',')));
  t.ok(distinct.size > 30);
});

interface ErrorCase {
  filter: string;
  code: string;
  offset: number;
  line: number;
  column: number;
  message: RegExp;
}

const ERRORS: ErrorCase[] = [
  { filter: 'method = "GET"', code: COL_ERR_FILTER_SYNTAX, offset: 7, line: 1, column: 8, message: /^syntax error: '=' is not an operator in CEL: did you mean '=='\? at line 1, column 8$/ },
  { filter: 'http && (status_code > 1', code: COL_ERR_FILTER_SYNTAX, offset: 8, line: 1, column: 9, message: /^syntax error: '\(' is never closed: add the matching '\)' at/ },
  { filter: 'path == "/api', code: COL_ERR_FILTER_SYNTAX, offset: 8, line: 1, column: 9, message: /^syntax error: the string starting here is never closed: end it with " at/ },
  { filter: "path == '/api", code: COL_ERR_FILTER_SYNTAX, offset: 8, line: 1, column: 9, message: /never closed: end it with ' at/ },
  { filter: 'path == """/api', code: COL_ERR_FILTER_SYNTAX, offset: 8, line: 1, column: 9, message: /never closed: end it with """ at/ },
  { filter: 'path == "C:\\" && http', code: COL_ERR_FILTER_SYNTAX, offset: 8, line: 1, column: 9, message: /never closed: end it with " \(\\" is a quote inside the text; a backslash is written \\\\\) at/ },
  {
    filter: 'method in ["GET")',
    code: COL_ERR_FILTER_SYNTAX,
    offset: 16,
    line: 1,
    column: 17,
    message: /^syntax error: '\)' does not close the '\[' at line 1, column 11: did you mean '\]'\? at/,
  },
  { filter: 'true) || (true', code: COL_ERR_FILTER_SYNTAX, offset: 4, line: 1, column: 5, message: /^syntax error: '\)' has no matching '\(': remove it, or add the '\(' it closes at/ },
  {
    filter: 'http &&\n  method == "GET" "POST"',
    code: COL_ERR_FILTER_SYNTAX,
    offset: 26,
    line: 2,
    column: 19,
    message: /^syntax error: an operator such as '&&' or '==' is missing before '"POST"' at/,
  },
  // A filter that stops where a value should follow: the caret goes after the operator, not under it.
  { filter: 'status_code ==', code: COL_ERR_FILTER_SYNTAX, offset: 14, line: 1, column: 15, message: /^syntax error: the filter ends after '==': a value is missing at/ },
  { filter: 'status_code >=', code: COL_ERR_FILTER_SYNTAX, offset: 14, line: 1, column: 15, message: /^syntax error: the filter ends after '>=': a value is missing at/ },
  { filter: 'http &&', code: COL_ERR_FILTER_SYNTAX, offset: 7, line: 1, column: 8, message: /^syntax error: the filter ends after '&&': a value is missing at/ },
  { filter: 'method == ', code: COL_ERR_FILTER_SYNTAX, offset: 9, line: 1, column: 10, message: /^syntax error: the filter ends after '==': a value is missing at/ },
  { filter: 'http ||\n  // more later\n', code: COL_ERR_FILTER_SYNTAX, offset: 7, line: 1, column: 8, message: /the filter ends after '\|\|': a value is missing/ },
  { filter: 'status_code in', code: COL_ERR_FILTER_SYNTAX, offset: 14, line: 1, column: 15, message: /the filter ends after 'in': a value is missing/ },
  { filter: 'http && !', code: COL_ERR_FILTER_SYNTAX, offset: 9, line: 1, column: 10, message: /the filter ends after '!': a value is missing/ },
  { filter: 'dst.', code: COL_ERR_FILTER_SYNTAX, offset: 4, line: 1, column: 5, message: /^syntax error: the filter ends after '\.': a field or method name is missing at/ },
  { filter: 'path.(1)', code: COL_ERR_FILTER_SYNTAX, offset: 5, line: 1, column: 6, message: /^syntax error: a field or method name is missing after '\.' at/ },
  // Inside brackets (as where the tap or the MCP tools wrap a filter), before the closing bracket.
  { filter: '(\nstatus_code ==\n) && http', code: COL_ERR_FILTER_SYNTAX, offset: 16, line: 2, column: 15, message: /^syntax error: a value is missing between '==' and '\)' at/ },
  { filter: 'status_code == == 500', code: COL_ERR_FILTER_SYNTAX, offset: 14, line: 1, column: 15, message: /^syntax error: a value is missing between '==' and '==' at/ },
  { filter: '== 500', code: COL_ERR_FILTER_SYNTAX, offset: 0, line: 1, column: 1, message: /^syntax error: the filter starts with '==': a value is missing before it at/ },
  { filter: 'size(path,) > 1', code: COL_ERR_FILTER_SYNTAX, offset: 10, line: 1, column: 11, message: /a value is missing between ',' and '\)'/ },
  // Operators of other languages, each with CEL's.
  { filter: 'status_code = 500', code: COL_ERR_FILTER_SYNTAX, offset: 12, line: 1, column: 13, message: /^syntax error: '=' is not an operator in CEL: did you mean '=='\? at/ },
  { filter: 'status_code === 500', code: COL_ERR_FILTER_SYNTAX, offset: 12, line: 1, column: 13, message: /'===' is not an operator in CEL: did you mean '=='\?/ },
  { filter: 'method !== "GET"', code: COL_ERR_FILTER_SYNTAX, offset: 7, line: 1, column: 8, message: /'!==' is not an operator in CEL: did you mean '!='\?/ },
  { filter: 'status_code <> 200', code: COL_ERR_FILTER_SYNTAX, offset: 12, line: 1, column: 13, message: /'<>' is not an operator in CEL: did you mean '!='\?/ },
  { filter: 'status_code => 500', code: COL_ERR_FILTER_SYNTAX, offset: 12, line: 1, column: 13, message: /'=>' is not an operator in CEL: did you mean '>='\?/ },
  { filter: 'status_code =< 500', code: COL_ERR_FILTER_SYNTAX, offset: 12, line: 1, column: 13, message: /'=<' is not an operator in CEL: did you mean '<='\?/ },
  { filter: 'http & grpc', code: COL_ERR_FILTER_SYNTAX, offset: 5, line: 1, column: 6, message: /'&' is not an operator in CEL: did you mean '&&'\?/ },
  { filter: 'http | grpc', code: COL_ERR_FILTER_SYNTAX, offset: 5, line: 1, column: 6, message: /'\|' is not an operator in CEL: did you mean '\|\|'\?/ },
  { filter: 'http &&& grpc', code: COL_ERR_FILTER_SYNTAX, offset: 5, line: 1, column: 6, message: /'&&&' is not an operator in CEL: did you mean '&&'\?/ },
  { filter: 'http && !grpc &!mesh', code: COL_ERR_FILTER_SYNTAX, offset: 14, line: 1, column: 15, message: /'&' is not an operator in CEL: did you mean '&&'\?/ },
  { filter: 'http AND status_code >= 500', code: COL_ERR_FILTER_SYNTAX, offset: 5, line: 1, column: 6, message: /^syntax error: 'AND' is not an operator in CEL: did you mean '&&'\? at/ },
  { filter: 'http or grpc', code: COL_ERR_FILTER_SYNTAX, offset: 5, line: 1, column: 6, message: /'or' is not an operator in CEL: did you mean '\|\|'\?/ },
  { filter: 'NOT mesh', code: COL_ERR_FILTER_SYNTAX, offset: 0, line: 1, column: 1, message: /'NOT' is not an operator in CEL: did you mean '!'\?/ },
  { filter: 'status_code == 500 || AND', code: COL_ERR_FILTER_UNDECLARED, offset: 22, line: 1, column: 23, message: /unknown variable 'AND' \(did you mean the operator '&&'\?\)/ },
  { filter: 'not(mesh)', code: COL_ERR_FILTER_UNDECLARED, offset: 0, line: 1, column: 1, message: /unknown function 'not' \(did you mean the operator '!'\?\)/ },
  // Quotes: CEL takes "…" and '…' alike, not backticks, typographic quotes or SQL's doubled quote.
  { filter: 'method == `GET`', code: COL_ERR_FILTER_SYNTAX, offset: 10, line: 1, column: 11, message: /'`' does not quote text in CEL: use "…" or '…'/ },
  { filter: 'method == \u201cGET\u201d', code: COL_ERR_FILTER_SYNTAX, offset: 10, line: 1, column: 11, message: /'\u201c' is a typographic quote: CEL quotes text with straight quotes, "…" or '…'/ },
  { filter: "path == 'it''s'", code: COL_ERR_FILTER_SYNTAX, offset: 11, line: 1, column: 12, message: /'' is not a quote inside a string in CEL: write \\', or put the text between "…"/ },
  { filter: 'method == GET', code: COL_ERR_FILTER_UNDECLARED, offset: 10, line: 1, column: 11, message: /^unknown variable 'GET'; for the text GET, write "GET" at/ },
  { filter: 'method in ["PUT", POST]', code: COL_ERR_FILTER_UNDECLARED, offset: 18, line: 1, column: 19, message: /unknown variable 'POST'; for the text POST, write "POST"/ },
  { filter: 'protocol == http', code: COL_ERR_FILTER_TYPE, offset: 9, line: 1, column: 10, message: /cannot compare string with bool using '=='; for the text http, write "http"/ },
  // Other stray characters and separators.
  { filter: 'http, grpc', code: COL_ERR_FILTER_SYNTAX, offset: 4, line: 1, column: 5, message: /',' separates list items and arguments: join conditions with '&&' or '\|\|'/ },
  { filter: 'status_code in [500 503]', code: COL_ERR_FILTER_SYNTAX, offset: 20, line: 1, column: 21, message: /a ',' is missing before '503'/ },
  { filter: 'method == "GET";', code: COL_ERR_FILTER_SYNTAX, offset: 15, line: 1, column: 16, message: /';' is not part of CEL: a filter is one expression/ },
  { filter: 'http\u00a0&& grpc', code: COL_ERR_FILTER_SYNTAX, offset: 4, line: 1, column: 5, message: /the invisible character U\+00A0 is not part of CEL's syntax/ },
  { filter: '// only a comment', code: COL_ERR_FILTER_SYNTAX, offset: 0, line: 1, column: 1, message: /the filter holds only comments: an expression is missing/ },
  { filter: 'foo == 1', code: COL_ERR_FILTER_UNDECLARED, offset: 0, line: 1, column: 1, message: /^unknown variable 'foo' at/ },
  { filter: 'http && stauts_code == 200', code: COL_ERR_FILTER_UNDECLARED, offset: 8, line: 1, column: 9, message: /unknown variable 'stauts_code' \(did you mean 'status_code'\?\)/ },
  {
    filter: 'http &&\n  dst.namepsace == "shop"',
    code: COL_ERR_FILTER_UNDECLARED,
    offset: 14,
    line: 2,
    column: 7,
    message: /unknown field 'namepsace' of endpoint \(did you mean 'namespace'\?\)/,
  },
  { filter: 'request.header["x"] == "1"', code: COL_ERR_FILTER_UNDECLARED, offset: 8, line: 1, column: 9, message: /unknown field 'header' of message/ },
  { filter: 'contains(path, "x")', code: COL_ERR_FILTER_UNDECLARED, offset: 0, line: 1, column: 1, message: /unknown function 'contains' \(it is a method/ },
  { filter: 'path.include("x")', code: COL_ERR_FILTER_UNDECLARED, offset: 5, line: 1, column: 6, message: /unknown method 'include'/ },
  { filter: 'status_code == "500"', code: COL_ERR_FILTER_TYPE, offset: 12, line: 1, column: 13, message: /cannot compare int with string using '=='/ },
  { filter: 'method > 5', code: COL_ERR_FILTER_TYPE, offset: 7, line: 1, column: 8, message: /cannot order string and int/ },
  { filter: 'status_code > 5 && "x"', code: COL_ERR_FILTER_TYPE, offset: 19, line: 1, column: 20, message: /'&&' expects bool operands, got string/ },
  { filter: 'path.contains(1)', code: COL_ERR_FILTER_TYPE, offset: 5, line: 1, column: 6, message: /no overload of 'contains' for string.contains\(int\); expected string.contains\(string\) -> bool/ },
  { filter: '(http ? status_code : "none") == "none"', code: COL_ERR_FILTER_TYPE, offset: 22, line: 1, column: 23, message: /the branches of '\?:' differ in type: int and string \(wrap one in dyn\(\)/ },
  { filter: '(http ? status_code : 0.0) > 1', code: COL_ERR_FILTER_TYPE, offset: 22, line: 1, column: 23, message: /int and double/ },
  { filter: 'elapsed_us + 1.5 > 2.0', code: COL_ERR_FILTER_TYPE, offset: 11, line: 1, column: 12, message: /cannot apply '\+' to int and double/ },
  { filter: 'error == null', code: COL_ERR_FILTER_TYPE, offset: 6, line: 1, column: 7, message: /has\(\)/ },
  { filter: '1 + 2', code: COL_ERR_FILTER_TYPE, offset: 0, line: 1, column: 1, message: /must be a bool expression, but this one is of type int/ },
  { filter: '\n  method', code: COL_ERR_FILTER_TYPE, offset: 3, line: 2, column: 3, message: /of type string/ },
  { filter: 'src', code: COL_ERR_FILTER_TYPE, offset: 0, line: 1, column: 1, message: /of type endpoint/ },
  { filter: 'has(method)', code: COL_ERR_FILTER_TYPE, offset: 0, line: 1, column: 1, message: /has\(\) needs a field selection/ },
  { filter: 'path.matches("[a-")', code: COL_ERR_FILTER_REGEX, offset: 13, line: 1, column: 14, message: /invalid regular expression "\[a-"/ },
  // An escape that is no character: a syntax error at the escape, not "too deeply nested".
  { filter: '"\\x" == path', code: COL_ERR_FILTER_SYNTAX, offset: 1, line: 1, column: 2, message: /an escape in a string is not a character \(\\xHH takes two hex digits/ },
  { filter: 'path == "ok" &&\n  "\\U00110000" == path', code: COL_ERR_FILTER_SYNTAX, offset: 19, line: 2, column: 4, message: /escape in a string is not a character/ },
  { filter: '"\\u{1}" == path', code: COL_ERR_FILTER_SYNTAX, offset: 1, line: 1, column: 2, message: /escape in a string is not a character/ },
  { filter: 'x'.repeat(MAX_FILTER_LENGTH + 1), code: COL_ERR_FILTER_TOO_COMPLEX, offset: MAX_FILTER_LENGTH, line: 1, column: MAX_FILTER_LENGTH + 1, message: /longer than/ },
];

void t.test('invalid filters are error values naming the position', async (t) => {
  for (const c of ERRORS) {
    const result = compileFilter(c.filter);
    const label = JSON.stringify(c.filter.length > 40 ? c.filter.slice(0, 40) + '…' : c.filter);
    if (!isFilterError(result)) {
      t.fail(`${label} should not compile`);
      continue;
    }
    t.equal(result.code, c.code, `${label} code`);
    t.same(result.position, { offset: c.offset, line: c.line, column: c.column }, `${label} position`);
    t.match(result.message, c.message, `${label} message`);
    t.match(result.message, new RegExp(`at line ${c.line}, column ${c.column}$`), `${label} message names the position`);
  }
});

void t.test('any valid filter cut after an operator says a value is missing there, never what the parser says', async (t) => {
  let cuts = 0;
  for (const { filter } of CASES) {
    for (const token of tokenize(filter)) {
      if (token.kind !== 'operator' || token.text === '.' || token.text === ',') continue;
      const cut = filter.slice(0, token.end);
      const result = compileFilter(cut);
      cuts++;
      if (!isFilterError(result)) {
        t.fail(`${JSON.stringify(cut)} should not compile`);
        continue;
      }
      t.equal(result.code, COL_ERR_FILTER_SYNTAX, JSON.stringify(cut));
      t.match(result.message, `the filter ends after '${token.text}': a value is missing`, JSON.stringify(cut));
      t.equal(result.position.offset, cut.length, `${JSON.stringify(cut)}: right after the operator`);
    }
  }
  t.ok(cuts > 50, `${cuts} cuts`);
});

void t.test('valid filters with what the syntax hints look for compile: single quotes, raw strings, operators in strings and comments', async (t) => {
  for (const source of [
    "method == 'GET'",
    "method in ['GET', \"POST\"]",
    "path == '''a'b'''",
    'path.matches(r"\\d+")',
    'path == "a = b & c | d AND e" // = & | AND\n',
    'http && mesh // a comment on the last line, no line break after it',
    'path == "http://x" // and one after a URL',
    'path == "http://x"',
    'http &&!mesh',
    'status_code ==-1 || elapsed_us > .5',
    'method in ["GET",]',
    'request.headers.exists(h, h == "accept")',
  ]) {
    const compiled = compileFilter(source);
    t.notOk(isFilterError(compiled), `${source}: ${isFilterError(compiled) ? compiled.message : 'compiles'}`);
  }
});

void t.test('a comment on the last line needs no line break: the filter means what it means without the comment', async (t) => {
  for (const [withComment, without] of [
    ['path == "/healthz" // the probes', 'path == "/healthz"'],
    ['path.startsWith("/api/") // //', 'path.startsWith("/api/")'],
    ['authority != "http://x" && path.endsWith("/42")\n// line two', 'authority != "http://x" && path.endsWith("/42")'],
  ]) {
    const a = compileFilter(withComment);
    const b = compileFilter(without);
    if (isFilterError(a) || isFilterError(b)) {
      t.fail(`${withComment}: ${isFilterError(a) ? a.message : ''} ${isFilterError(b) ? b.message : ''}`);
      continue;
    }
    const matched = RECORDS.filter((r) => a.matches(r)).map((r) => r.id);
    t.ok(matched.length > 0, `${withComment}: matches some`);
    t.same(matched, RECORDS.filter((r) => b.matches(r)).map((r) => r.id), withComment);
  }
  const stillBroken = compileFilter('http && // the rest is a comment');
  t.ok(isFilterError(stillBroken) && /value is missing|ends after/.test(stillBroken.message), 'a comment does not complete an expression');
});

void t.test('the branches of a ?: agree: the same type, dyn, null, a struct and a map of string keys', async (t) => {
  for (const source of [
    '(has(tls.app_tls) ? tls.app_tls : {}).sni == "x"',
    '(http ? src : {"pod": "x"}).pod == "x"',
    '(http ? [src] : [{"pod": "x"}]).size() > 0',
    '(http ? src.labels : {}).size() > 0',
    '(http ? [] : [1]).size() == 0',
    '(http ? dyn(status_code) : "none") == "none"',
    '(http ? method : null) == "GET"',
  ]) {
    const compiled = compileFilter(source);
    t.notOk(isFilterError(compiled), `${source}: ${isFilterError(compiled) ? compiled.message : 'compiles'}`);
  }
});

void t.test('deeply nested input is refused, not a crash', async (t) => {
  const sources = [
    '('.repeat(5000) + 'true' + ')'.repeat(5000),
    '(http && '.repeat(300) + 'true' + ')'.repeat(300),
    '['.repeat(150) + ']'.repeat(150) + ' == []',
  ];
  for (const source of sources) {
    const result = compileFilter(source);
    t.ok(isFilterError(result), 'an error value');
    if (isFilterError(result)) t.ok([COL_ERR_FILTER_TOO_COMPLEX, COL_ERR_FILTER_SYNTAX].includes(result.code), result.code);
  }
});

void t.test('a non-string filter is an error value', async (t) => {
  const result = compileFilter(['http'] as unknown as string);
  t.ok(isFilterError(result));
});

void t.test('evaluation failures count through the hook and do not match; absent fields are not failures', async (t) => {
  const failures: FilterEvalFailure[] = [];
  const divide = compileFilter('100 / (status_code - 200) > 0', { onEvalFailure: (f) => failures.push(f) });
  if (!isCompiledFilter(divide)) return t.fail('should compile');
  const matched = RECORDS.filter((r) => divide.matches(r)).map((r) => r.id);
  // 100 / (503-200) = 0, 100 / (401-200) = 0, 100 / (404-200) = 0, 100 / (204-200) = 25.
  t.same(matched, ['r03']);
  // status 200 divides by zero (r02, r04, r05, r12); absent status (r06, r07, r10, r11) is not a failure.
  t.same(failures.map((f) => f.recordId), ['r02', 'r04', 'r05', 'r12']);
  t.ok(failures.every((f) => f.reason === 'error' && /divide by zero/.test(f.message)));

  const notBool: FilterEvalFailure[] = [];
  const dynamic = compileFilter('dyn(status_code)', { onEvalFailure: (f) => notBool.push(f) });
  if (!isCompiledFilter(dynamic)) return t.fail('dyn results are checked at run time');
  t.equal(RECORDS.filter((r) => dynamic.matches(r)).length, 0);
  t.equal(notBool.filter((f) => f.reason === 'not-bool').length, 8, 'every record with a status code');

  const throwing = compileFilter('int(method) > 0', {
    onEvalFailure: () => {
      throw new Error('hook broke');
    },
  });
  if (!isCompiledFilter(throwing)) return t.fail('should compile');
  t.equal(throwing.matches(RECORDS[0]), false, 'a throwing hook does not escape');
});

void t.test('matches never throws, even on malformed records', async (t) => {
  const filters = CASES.map((c) => compileFilter(c.filter)).filter(isCompiledFilter);
  const broken = [
    {},
    { id: 'x', protocol: 'http', src: null, dst: undefined, tls: null, request: { headers: null, body: 'not bytes' } },
    { ...RECORDS[0], start: 'yesterday', elapsed_us: Number.NaN, status_code: 1.5, sensitive: null },
  ] as unknown as CallRecord[];
  for (const f of filters) {
    for (const r of broken) t.doesNotThrow(() => f.matches(r), f.source);
  }
});

void t.test('filters that do not read bodies do not decode them', async (t) => {
  const cases: Array<[string, boolean]> = [
    ['request.headers["a"] == "b"', false],
    ['response.body_size > 10', false],
    ['call.request.truncated', false],
    ['request.body.contains("x")', true],
    ['has(response.body)', true],
    ['size(request) > 0', true],
    ['call.response.body == ""', true],
    ['has(call.request)', true],
    ['http', false],
  ];
  for (const [source, reads] of cases) {
    const f = compileFilter(source);
    if (!isCompiledFilter(f)) {
      t.fail(source);
      continue;
    }
    t.equal(f.readsBodies, reads, source);
  }
  // And the skipped decode does not change any answer.
  const f = compileFilter('request.headers["content-type"] == "application/json"');
  if (isCompiledFilter(f)) t.same(RECORDS.filter((r) => f.matches(r)).map((r) => r.id), ['r01', 'r10']);
});

void t.test('compileFilter never throws on any input', async (t) => {
  fc.assert(
    fc.property(fc.string({ maxLength: 200 }), (source) => {
      const result = compileFilter(source);
      if (isCompiledFilter(result)) for (const r of RECORDS) result.matches(r);
      else if (!isFilterError(result)) throw new Error('neither a filter nor an error');
    }),
    { numRuns: 2000 },
  );
  // Mutations of valid filters reach deeper into the parser and checker than random text.
  const seeds = CASES.map((c) => c.filter).filter((s) => s.length > 0);
  fc.assert(
    fc.property(
      fc.constantFrom(...seeds),
      fc.array(fc.tuple(fc.nat(), fc.nat({ max: 3 }), fc.string({ maxLength: 3 })), { minLength: 1, maxLength: 4 }),
      (seed, edits) => {
        let s = seed;
        for (const [pos, del, ins] of edits) {
          const at = pos % (s.length + 1);
          s = s.slice(0, at) + ins + s.slice(at + del);
        }
        const result = compileFilter(s);
        if (isCompiledFilter(result)) for (const r of RECORDS) result.matches(r);
        else if (!isFilterError(result)) throw new Error('neither a filter nor an error');
        else if (result.position.offset < 0 || result.position.offset > s.length) throw new Error('position outside the source');
      },
    ),
    { numRuns: 3000 },
  );
  t.pass('no throw');
});

void t.test('a regular expression built at run time that does not compile fails that record only', async (t) => {
  const failures: FilterEvalFailure[] = [];
  const f = compileFilter('path.matches(method + "(")', { onEvalFailure: (x) => failures.push(x) });
  if (!isCompiledFilter(f)) return t.fail('should compile');
  t.equal(RECORDS.filter((r) => f.matches(r)).length, 0);
  t.equal(failures.length, 9, 'every record with both a method and a path (all but r06, r07, r11)');
  t.ok(failures.every((x) => /missing closing \)/.test(x.message)));
});
