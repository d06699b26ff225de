import { globSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { CLI_ERR_USAGE, cliErrors, defineErrors, isMeshtapError, MeshtapError } from '../../lib/errors.ts';
import { checkCatalogs, codeLiterals, FOREIGN_CODE_PREFIXES, loadCatalogs, renderErrorsDoc } from '../../scripts/errors-doc.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const files = await loadCatalogs(root);

void t.test('every catalog file holds a catalog; codes are unique and carry their component prefix', async (t) => {
  t.ok(files.length >= 9, `found ${files.length} catalog files`);
  const problems = checkCatalogs(files);
  t.same(problems, [], problems.length === 0 ? 'no problems' : `catalog problems:\n- ${problems.join('\n- ')}`);
});

void t.test('docs/errors.md is what npm run docs:errors writes', async (t) => {
  const want = renderErrorsDoc(files);
  const have = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');
  if (have !== want) {
    const a = have.split('\n');
    const b = want.split('\n');
    let i = 0;
    while (i < a.length && a[i] === b[i]) i++;
    t.fail(`docs/errors.md is stale: run "npm run docs:errors" and commit it (first difference at line ${i + 1}:\n  file:      ${a[i] ?? '<end>'}\n  catalogs:  ${b[i] ?? '<end>'})`);
  } else {
    t.pass('docs/errors.md is up to date');
  }
});

void t.test('every code-like literal in the sources is declared in a catalog', async (t) => {
  const declared = new Set(files.flatMap((f) => f.catalogs.flatMap((c) => Object.keys(c.specs))));
  const sources = globSync(['**/*.ts'], { cwd: root, exclude: (p: string) => /(^|\/)(node_modules|\.git|\.tap|coverage)$|^test$/.test(p) });
  const strays: string[] = [];
  for (const file of sources) {
    for (const code of codeLiterals(readFileSync(`${root}/${file}`, 'utf8'))) {
      if (!declared.has(code) && !FOREIGN_CODE_PREFIXES.some((p) => code.startsWith(p))) strays.push(`${file}: ${code}`);
    }
  }
  t.same(strays, [], strays.length === 0 ? 'all declared' : `codes outside every catalog:\n- ${strays.join('\n- ')}`);
});

void t.test('the checks catch a duplicate code, a wrong prefix, a wrong folder, a file without catalog and stray constants', async (t) => {
  const good = defineErrors({ component: 'lab', title: 'a', prefix: 'LAB_ERR_' }, { LAB_ERR_X: { summary: 's', action: 'a' } });
  const again = defineErrors({ component: 'lab', title: 'b', prefix: 'LAB_ERR_' }, { LAB_ERR_X: { summary: 's', action: 'a' } });
  const wrongPrefix = defineErrors({ component: 'lab', title: 'c', prefix: 'SC_ERR_' }, { SC_ERR_Y: { summary: 's', action: 'a' } });
  const wrongCode = defineErrors({ component: 'lab', title: 'd', prefix: 'LAB_ERR_' }, { COL_ERR_Z: { summary: 's', action: 'a' } });
  const problems = checkCatalogs([
    { file: 'lab/errors.ts', catalogs: [good], constants: { LAB_ERR_X: 'LAB_ERR_X', LAB_ERR_W: 'LAB_ERR_V', LAB_ERR_U: 'LAB_ERR_U' } },
    { file: 'lab/other-errors.ts', catalogs: [again, wrongPrefix, wrongCode] },
    { file: 'sidecar/errors.ts', catalogs: [] },
    { file: 'collector/x-errors.ts', catalogs: [good] },
  ]);
  t.match(problems.join('\n'), /code LAB_ERR_X is declared twice: in lab\/errors\.ts and in lab\/other-errors\.ts/);
  t.match(problems.join('\n'), /prefix SC_ERR_ is not one of lab's \(LAB_ERR_\)/);
  t.match(problems.join('\n'), /code COL_ERR_Z has the wrong prefix/);
  t.match(problems.join('\n'), /sidecar\/errors\.ts is named like an error catalog but exports none/);
  t.match(problems.join('\n'), /belongs to component "lab" but lives in collector\//);
  t.match(problems.join('\n'), /constant LAB_ERR_W is "LAB_ERR_V"/);
  t.match(problems.join('\n'), /constant LAB_ERR_U is in none of the file's catalogs/);
  t.notMatch(problems.join('\n'), /constant LAB_ERR_X/);
  t.same(codeLiterals("f('A_ERR_B', \"C_ERR_D2\");\n// 'E_ERR_F'\n/* 'G_ERR_H' */ g('I_ERR_')"), ['A_ERR_B', 'C_ERR_D2'], 'literals outside comments, prefixes skipped');
});

void t.test('a catalog gives code constants, a factory with cause, and statuses', async (t) => {
  t.equal(CLI_ERR_USAGE, 'CLI_ERR_USAGE');
  t.equal(cliErrors.exitCode(CLI_ERR_USAGE), 2);
  t.equal(cliErrors.exitCode('CLI_ERR_NOPE'), undefined);
  const cause = new Error('inner');
  const err = cliErrors.create(CLI_ERR_USAGE, 'bad flag', cause);
  t.ok(err instanceof MeshtapError && isMeshtapError(err, CLI_ERR_USAGE));
  t.equal(err.message, 'bad flag');
  t.equal(err.cause, cause);
  t.notOk(Object.hasOwn(cliErrors.create(CLI_ERR_USAGE, 'no cause'), 'cause'), 'no cause property without a cause');
  const web = defineErrors({ component: 'webhook', title: 't', prefix: 'WH_ERR_' }, { WH_ERR_T: { summary: 's', action: 'a', httpStatus: 418 } });
  t.equal(web.httpStatus(web.codes.WH_ERR_T), 418);
  t.ok(web.has('WH_ERR_T'));
  t.notOk(web.has('toString'), 'inherited names are not codes');
});
