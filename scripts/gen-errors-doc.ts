/** Writes docs/errors.md from the error catalogs (`npm run docs:errors`). Refuses while a catalog is broken. */
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkCatalogs, loadCatalogs, renderErrorsDoc } from './errors-doc.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const files = await loadCatalogs(root);
const problems = checkCatalogs(files);
if (problems.length > 0) {
  process.stderr.write(`gen-errors-doc: fix the catalogs first:\n- ${problems.join('\n- ')}\n`);
  process.exitCode = 1;
} else {
  const target = join(root, 'docs', 'errors.md');
  writeFileSync(target, renderErrorsDoc(files));
  const codes = files.reduce((n, f) => n + f.catalogs.reduce((m, c) => m + Object.keys(c.specs).length, 0), 0);
  process.stdout.write(`wrote docs/errors.md: ${codes} codes from ${files.length} catalog files\n`);
}
