/**
 * docs/errors.md from the error catalogs: finds every catalog file (`errors.ts`,
 * `*-errors.ts` outside test/ and node_modules), checks the catalogs and renders one table per
 * catalog, grouped by component. The renderer and the checks are pure; `loadCatalogs` imports.
 */
import { globSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { isErrorCatalog, type ErrorCatalog } from '../lib/errors.ts';

/** The code prefixes each component may use. A new component or prefix is added here on purpose. */
export const COMPONENT_PREFIXES: Readonly<Record<string, readonly string[]>> = Object.freeze({
  // lib/ also holds shared pieces that moved in from components; their codes kept the
  // prefixes callers already match on (TLS files from certs, the Kubernetes client from the
  // webhook, the inventory from the collector).
  lib: ['CLI_ERR_', 'CA_ERR_', 'WH_ERR_', 'COL_ERR_'],
  record: ['REC_ERR_'],
  certs: ['CA_ERR_'],
  webhook: ['INJ_ERR_', 'WH_ERR_'],
  sidecar: ['SC_ERR_'],
  collector: ['COL_ERR_'],
  controller: ['CTL_ERR_'],
  lab: ['LAB_ERR_'],
  bench: ['BENCH_ERR_'],
});

/** Code-like strings owned by libraries, not by meshtap (fastify's content-type parser). */
export const FOREIGN_CODE_PREFIXES: readonly string[] = ['FST_ERR_'];

export const CATALOG_FILE_PATTERNS: readonly string[] = ['**/errors.ts', '**/*-errors.ts'];

export interface CatalogFile {
  /** Relative to the repository root, with `/`. */
  readonly file: string;
  readonly catalogs: readonly ErrorCatalog[];
  /** The file's exported code constants (`X_ERR_A = 'X_ERR_A'`), by export name. */
  readonly constants?: Readonly<Record<string, unknown>>;
}

const CODE_NAME = /^[A-Z][A-Z0-9]*_ERR_[A-Z0-9_]*[A-Z0-9]$/;

const SKIPPED_DIRS = /(^|\/)(node_modules|\.git|\.tap|coverage)$|^test$/;

/** Repository-relative paths of files that must hold a catalog, sorted. */
export function findCatalogFiles(root: string): string[] {
  return globSync([...CATALOG_FILE_PATTERNS], { cwd: root, exclude: (p: string) => SKIPPED_DIRS.test(p) })
    .map((p) => p.split('\\').join('/'))
    .sort();
}

/** Imports each catalog file and picks the catalogs among its exports (each catalog object once). */
export async function loadCatalogs(root: string): Promise<CatalogFile[]> {
  const seen = new Set<ErrorCatalog>();
  const out: CatalogFile[] = [];
  for (const file of findCatalogFiles(root)) {
    const mod = (await import(pathToFileURL(join(root, file)).href)) as Record<string, unknown>;
    const catalogs: ErrorCatalog[] = [];
    const constants: Record<string, unknown> = {};
    for (const [name, value] of Object.entries(mod)) {
      if (isErrorCatalog(value) && !seen.has(value)) {
        seen.add(value);
        catalogs.push(value);
      }
      if (CODE_NAME.test(name)) constants[name] = value;
    }
    out.push({ file, catalogs, constants });
  }
  return out;
}

/** Every problem with the catalogs, as sentences; empty when all is well. */
export function checkCatalogs(files: readonly CatalogFile[]): string[] {
  const problems: string[] = [];
  const owner = new Map<string, string>();
  for (const { file, catalogs, constants = {} } of files) {
    for (const [name, value] of Object.entries(constants)) {
      if (value !== name) problems.push(`${file}: constant ${name} is ${JSON.stringify(value)}; a code constant holds its own name`);
      else if (!catalogs.some((c) => c.has(name))) problems.push(`${file}: constant ${name} is in none of the file's catalogs`);
    }
    if (catalogs.length === 0) {
      problems.push(`${file} is named like an error catalog but exports none (declare its codes with defineErrors from lib/errors.ts)`);
    }
    const folder = file.split('/')[0];
    for (const catalog of catalogs) {
      const where = `${file} (${catalog.prefix}*)`;
      const allowed = COMPONENT_PREFIXES[catalog.component];
      if (catalog.component !== folder) {
        problems.push(`${where} says it belongs to component "${catalog.component}" but lives in ${folder}/`);
      }
      if (allowed === undefined) {
        problems.push(`${where}: component "${catalog.component}" has no code prefixes in COMPONENT_PREFIXES (scripts/errors-doc.ts)`);
      } else if (!allowed.includes(catalog.prefix)) {
        problems.push(`${where}: prefix ${catalog.prefix} is not one of ${catalog.component}'s (${allowed.join(', ')})`);
      }
      for (const [code, spec] of Object.entries(catalog.specs)) {
        if (!code.startsWith(catalog.prefix) || !CODE_NAME.test(code)) {
          problems.push(`${where}: code ${code} has the wrong prefix or shape (want ${catalog.prefix}UPPER_SNAKE)`);
        }
        const first = owner.get(code);
        if (first !== undefined) problems.push(`code ${code} is declared twice: in ${first} and in ${file}`);
        else owner.set(code, file);
        if (spec.summary.trim() === '' || spec.action.trim() === '') problems.push(`${where}: code ${code} needs a summary and an action`);
      }
    }
  }
  return problems;
}

/**
 * Code-like string literals (`'X_ERR_Y'`) in a source text, comments left out. Prefix-only
 * literals (`'X_ERR_'`) are not codes.
 */
export function codeLiterals(source: string): string[] {
  const code = source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
  return [...code.matchAll(/['"]([A-Z][A-Z0-9]*_ERR_[A-Z0-9_]*[A-Z0-9])['"]/g)].map((m) => m[1]);
}

function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\s*\n\s*/g, ' ');
}

function statusOf(catalog: ErrorCatalog, code: string): string {
  const http = catalog.httpStatus(code);
  const exit = catalog.exitCode(code);
  return [http === undefined ? '' : `HTTP ${http}`, exit === undefined ? '' : `exit ${exit}`].filter(Boolean).join(', ');
}

/** The whole of docs/errors.md. */
export function renderErrorsDoc(files: readonly CatalogFile[]): string {
  const byComponent = new Map<string, { file: string; catalog: ErrorCatalog }[]>();
  for (const { file, catalogs } of files) {
    for (const catalog of catalogs) {
      const list = byComponent.get(catalog.component) ?? [];
      list.push({ file, catalog });
      byComponent.set(catalog.component, list);
    }
  }
  const lines: string[] = [
    '# Error codes',
    '',
    '<!-- Generated by `npm run docs:errors` from the error catalogs; edit the catalogs, not this file. -->',
    '',
    'Every failure meshtap reports carries a stable code: in log lines and CLI output',
    '(`CODE: message`), in HTTP error bodies (`{ "error": { "code", "message" } }`) and in gRPC',
    'status details. The message says what exactly went wrong; this page says what the code means',
    'and what to do. Each component declares its codes once, with `defineErrors` (`lib/errors.ts`),',
    'in its `errors.ts` or `<part>-errors.ts`. Expected outcomes (a skip reason, a dropped record,',
    'a failed export) are values and counters, not errors, and have no code here.',
    '',
    'A command ends with exit status 1 on an error unless the table says otherwise.',
  ];
  for (const component of [...byComponent.keys()].sort()) {
    lines.push('', `## ${component}/`);
    const entries = byComponent.get(component) ?? [];
    entries.sort((a, b) => (a.file === b.file ? 0 : a.file === `${component}/errors.ts` ? -1 : b.file === `${component}/errors.ts` ? 1 : a.file < b.file ? -1 : 1));
    for (const { file, catalog } of entries) {
      const codes = Object.keys(catalog.specs);
      const withStatus = codes.some((code) => statusOf(catalog, code) !== '');
      lines.push('', `### ${catalog.title.charAt(0).toUpperCase()}${catalog.title.slice(1)} (\`${file}\`)`, '');
      lines.push(withStatus ? '| code | status | meaning | what to do |' : '| code | meaning | what to do |');
      lines.push(withStatus ? '|---|---|---|---|' : '|---|---|---|');
      for (const code of codes) {
        const spec = catalog.specs[code];
        const cells = [`\`${code}\``, ...(withStatus ? [statusOf(catalog, code)] : []), cell(spec.summary), cell(spec.action)];
        lines.push(`| ${cells.join(' | ')} |`);
      }
    }
  }
  return `${lines.join('\n')}\n`;
}
