/**
 * webhook/README.md, "Injector options", documents every key of the injector's `--config` file:
 * a key added to (or removed from) the schema without the table fails here, so the docs
 * cannot drift. And the commands that take such a file point at that section in their help.
 */
import { readFileSync } from 'node:fs';
import t from 'tap';
import { INJECTOR_OPTION_KEYS, resolveInjectorConfig } from '../../webhook/injector-config.ts';
import { runMeshtap } from '../helpers/run-meshtap.ts';

const readme = readFileSync(new URL('../../webhook/README.md', import.meta.url), 'utf8');

/** The lines of the `## Injector options` section, up to the next `## ` heading. */
function section(text: string, heading: string): string[] {
  const lines = text.split('\n');
  const start = lines.indexOf(heading);
  if (start < 0) return [];
  const end = lines.findIndex((l, i) => i > start && l.startsWith('## '));
  return lines.slice(start + 1, end < 0 ? lines.length : end);
}

/** The rows of the first table in `lines` whose header's first cell is `key`: cells, trimmed. */
function keyTable(lines: string[]): string[][] {
  const cells = (line: string) => line.replace(/^\|/, '').replace(/\|$/, '').split('|').map((c) => c.trim());
  const header = lines.findIndex((l) => l.startsWith('|') && cells(l)[0] === 'key');
  if (header < 0) return [];
  const rows: string[][] = [];
  for (const line of lines.slice(header + 2)) {
    if (!line.startsWith('|')) break;
    rows.push(cells(line));
  }
  return rows;
}

const rows = keyTable(section(readme, '## Injector options'));
/** The first column: each cell one key in backquotes. */
const documented = rows.map((r) => /^`([A-Za-z]+)`$/.exec(r[0])?.[1] ?? r[0]);

void t.test('the README table lists every key the schema accepts, and only those', async (t) => {
  t.ok(INJECTOR_OPTION_KEYS.length >= 21, `the schema has ${INJECTOR_OPTION_KEYS.length} keys`);
  t.ok(rows.length > 0, 'webhook/README.md has a "## Injector options" section with a key table');
  const missing = INJECTOR_OPTION_KEYS.filter((k) => !documented.includes(k));
  const unknown = documented.filter((k) => !(INJECTOR_OPTION_KEYS as readonly string[]).includes(k));
  t.same(missing, [], missing.length === 0 ? 'every key is documented' : `keys missing from webhook/README.md "Injector options": ${missing.join(', ')}`);
  t.same(unknown, [], unknown.length === 0 ? 'no stale rows' : `rows for keys the schema does not accept: ${unknown.join(', ')}`);
  t.equal(new Set(documented).size, documented.length, 'each key once');
  for (const row of rows) t.equal(row.length, 4, `${row[0]}: key, takes, default, what it does`);
});

void t.test('the default column says the scalar defaults the schema gives', async (t) => {
  const defaults = resolveInjectorConfig({}) as unknown as Record<string, unknown>;
  for (const [i, key] of documented.entries()) {
    const value = defaults[key];
    // The image's default names the release (VERSION); resources are mappings, written out in words.
    if (key === 'image' || typeof value === 'object') continue;
    t.ok(rows[i][2].includes(`\`${String(value)}\``), `${key}: default \`${String(value)}\` (the README says ${rows[i][2]})`);
  }
});

void t.test('the help of every command taking the file points at the section', async (t) => {
  for (const command of ['webhook', 'controller', 'inject']) {
    const help = runMeshtap(t, [command, '--help']);
    t.equal(await help.exited, 0, `meshtap ${command} --help`);
    const text = help.lines.map((l) => l.text).join('\n');
    t.match(text, /--config FILE/, `${command}: --config`);
    t.match(text, /webhook\/README\.md, "Injector options"/, `${command}: --config points at webhook/README.md, "Injector options"`);
  }
});
