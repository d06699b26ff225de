/**
 * Which rows a filter needs from the full-text index: substrings it requires of the path or
 * the bodies, as whole conjuncts, turned into an FTS5 query over trigrams. The index is only a
 * superset; the compiled filter decides.
 */
import { fieldPath, type CelExpr } from '../filter/ast.ts';

export type FtsColumn = 'path' | 'request_body' | 'response_body';

/** A substring every matching record has in one indexed column. */
export interface FullTextTerm {
  column: FtsColumn;
  text: string;
}

function identPath(e: CelExpr): string[] | undefined {
  const path = fieldPath(e);
  return path?.[0] === 'call' ? path.slice(1) : path;
}

/**
 * Substrings a filter requires: `x.contains("s")`, `x.startsWith("s")`, `x.endsWith("s")` on
 * `path`, `request.body` or `response.body`, standing as a whole conjunct of the top-level
 * `&&` chain (so a match must contain them). The trigram index needs 3 characters or more.
 */
export function fullTextTerms(ast: CelExpr | undefined): FullTextTerm[] {
  const terms: FullTextTerm[] = [];
  const visit = (e: CelExpr): void => {
    if (e.exprKind.case !== 'callExpr') return;
    const call = e.exprKind.value;
    if (call.function === '_&&_') {
      call.args.forEach(visit);
      return;
    }
    if (!['contains', 'startsWith', 'endsWith'].includes(call.function) || call.target === undefined || call.args.length !== 1) return;
    const arg = call.args[0].exprKind;
    if (arg.case !== 'constExpr' || arg.value.constantKind.case !== 'stringValue') return;
    const text = arg.value.constantKind.value;
    if ([...text].length < 3) return;
    const path = identPath(call.target)?.join('.');
    const column: FtsColumn | undefined =
      path === 'path' ? 'path' : path === 'request.body' ? 'request_body' : path === 'response.body' ? 'response_body' : undefined;
    if (column !== undefined) terms.push({ column, text });
  };
  if (ast !== undefined) visit(ast);
  return terms;
}

/** Every distinct trigram of every term (detail=none answers no phrase or column queries). */
export function ftsQuery(terms: readonly FullTextTerm[]): string {
  const trigrams = new Set<string>();
  for (const term of terms) {
    const chars = [...term.text];
    for (let i = 0; i + 3 <= chars.length; i++) trigrams.add(chars.slice(i, i + 3).join(''));
  }
  return [...trigrams].map((t) => `"${t.replaceAll('"', '""')}"`).join(' AND ');
}
