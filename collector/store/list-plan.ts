/** How a list query becomes SQL over `calls`: the pushed-down filter, the full-text prefilter, the rest. */
import type { SQLInputValue } from 'node:sqlite';
import type { CompiledFilter } from '../filter/compile.ts';
import { buildSqlPushdown, readsRecord } from '../filter/pushdown.ts';
import type { ListQuery } from '../record-store.ts';
import { fullTextTerms, ftsQuery } from './full-text.ts';

export interface ListPlan {
  where: string;
  params: SQLInputValue[];
  /** The filter left to check on each candidate row in JS. */
  residual: CompiledFilter | undefined;
  /** `where` reads each candidate row's record (`readsRecord`): scan it in bounded ranges of rows. */
  readsRecord: boolean;
}

/**
 * The SQL that selects candidate rows, and the filter left to check on them. `ftsFrom` is the
 * first seq the full-text index covers (rows stored before it was created are never in it, so
 * searches must still read them), undefined when there is no index.
 */
export function planList(query: ListQuery, ftsFrom: bigint | undefined): ListPlan {
  const where: string[] = [];
  const params: SQLInputValue[] = [];
  if (query.since !== undefined) {
    where.push('start_ns >= ?');
    params.push(query.since);
  }
  if (query.until !== undefined) {
    where.push('start_ns < ?');
    params.push(query.until);
  }
  let residual: CompiledFilter | undefined;
  if (query.filter !== undefined) {
    const pushed = buildSqlPushdown(query.filter);
    if (pushed.where !== '1') {
      where.push(`(${pushed.where})`);
      params.push(...pushed.params);
    }
    if (pushed.residual) {
      residual = query.filter;
      const terms = ftsFrom !== undefined ? fullTextTerms(query.filter.ast) : [];
      if (terms.length > 0) {
        // A row is a candidate when the document covering it matches.
        where.push(
          '((SELECT d.first_seq FROM calls_fts_docs d WHERE d.first_seq <= calls.seq ORDER BY d.first_seq DESC LIMIT 1) IN (SELECT rowid FROM calls_fts WHERE calls_fts MATCH ?) OR seq < ?)',
        );
        params.push(ftsQuery(terms), ftsFrom!);
      }
    }
  }
  const sql = where.length === 0 ? '1' : where.join(' AND ');
  return { where: sql, params, residual, readsRecord: readsRecord({ where: sql }) };
}
