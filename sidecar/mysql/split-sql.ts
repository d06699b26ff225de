/**
 * Splitting a multi-statement COM_QUERY at its statement boundaries, and naming a statement by
 * its first keyword. MySQL's lexer: '…' and "…" strings with backslash escapes, `…` quoted
 * names, `-- `, `#` and `/* … *\/` comments (`/*! … *\/` runs as code). When the split is not
 * certain (an unterminated quote or comment, a compound statement with BEGIN … END) the caller
 * keeps the whole text.
 */

/** The statements of `sql` (trimmed, empty ones dropped), or undefined when not certain. */
export function splitStatements(sql: string): string[] | undefined {
  const out: string[] = [];
  let start = 0;
  let i = 0;
  const n = sql.length;
  while (i < n) {
    const c = sql[i];
    if (c === "'" || c === '"' || c === '`') {
      i++;
      while (i < n && sql[i] !== c) i += sql[i] === '\\' && c !== '`' ? 2 : 1;
      if (i >= n) return undefined;
      i++;
      continue;
    }
    if (c === '#' || (c === '-' && sql[i + 1] === '-' && (i + 2 >= n || /\s/.test(sql[i + 2])))) {
      const end = sql.indexOf('\n', i);
      i = end === -1 ? n : end + 1;
      continue;
    }
    if (c === '/' && sql[i + 1] === '*') {
      const end = sql.indexOf('*/', i + 2);
      if (end === -1) return undefined;
      i = end + 2;
      continue;
    }
    if (c === ';') {
      const s = sql.slice(start, i).trim();
      if (s !== '') out.push(s);
      start = i + 1;
    }
    i++;
  }
  const last = sql.slice(start).trim();
  if (last !== '') out.push(last);
  if (out.length > 1 && out.some((s) => /\bBEGIN\b/i.test(s)) && out.some((s) => firstKeyword(s) === 'CREATE')) return undefined;
  return out;
}

/** The statement's first keyword, upper-cased (`SELECT`, `INSERT`, …); '' when there is none. */
export function firstKeyword(sql: string): string {
  let i = 0;
  const n = sql.length;
  while (i < n) {
    const c = sql[i];
    if (/\s/.test(c) || c === '(') {
      i++;
      continue;
    }
    if (c === '#' || (c === '-' && sql[i + 1] === '-')) {
      const end = sql.indexOf('\n', i);
      if (end === -1) return '';
      i = end + 1;
      continue;
    }
    if (c === '/' && sql[i + 1] === '*') {
      if (sql[i + 2] === '!') {
        // Executable comment: its content is code, after an optional version number.
        i += 3;
        while (i < n && /[0-9]/.test(sql[i])) i++;
        continue;
      }
      const end = sql.indexOf('*/', i + 2);
      if (end === -1) return '';
      i = end + 2;
      continue;
    }
    break;
  }
  const m = /^[A-Za-z_]+/.exec(sql.slice(i, i + 64));
  return m === null ? '' : m[0].toUpperCase();
}
