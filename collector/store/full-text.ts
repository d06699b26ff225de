/**
 * Full-text planning for the `calls_fts` index: which substrings a filter requires, and the
 * FTS5 query that finds the rows holding them. The index only has to return a superset: the
 * compiled filter decides on every candidate row.
 */
import type { CelExpr } from '../filter/ast.ts';
import type { HttpMessage } from '../../record/record.ts';

// The filter decodes bodies the same way, so the index holds exactly the text the filter reads.
const lenientUtf8 = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });

/** A body as the index holds it; NULL when there is none. */
export function bodyText(m: HttpMessage | undefined): string | null {
  return m?.body instanceof Uint8Array && m.body.byteLength > 0 ? lenientUtf8.decode(m.body) : null;
}

type FtsColumn = 'path' | 'request_body' | 'response_body';

/** A substring every matching record has in one indexed column. */
export interface FullTextTerm {
  column: FtsColumn;
  text: string;
}

function identPath(e: CelExpr): string[] | undefined {
  const path: string[] = [];
  let current: CelExpr | undefined = e;
  while (current?.exprKind.case === 'selectExpr') {
    if (current.exprKind.value.testOnly) return undefined;
    path.unshift(current.exprKind.value.field);
    current = current.exprKind.value.operand;
  }
  if (current?.exprKind.case !== 'identExpr') return undefined;
  path.unshift(current.exprKind.value.name);
  return path[0] === 'call' ? path.slice(1) : path;
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
