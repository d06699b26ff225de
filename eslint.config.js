// @ts-check
import tseslint from 'typescript-eslint';

/**
 * Which way dependencies may point between the top-level folders. A relative import that climbs
 * out of its folder (`../`, `../../`, …) and lands in one of `folders` is refused, static or
 * dynamic (`import()`), type-only or not. `lab/`, `bench/`, `bin/`, `scripts/` and `test/` are
 * harnesses and may import anything.
 */
function forbid(files, folders, why) {
  const regex = `^(\\.\\./)+(${folders.join('|')})/`;
  const message = `${why} (see record/README.md and docs/conventions.md, "Layout").`;
  return {
    files,
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ regex, message }] }],
      'no-restricted-syntax': ['error', { selector: `ImportExpression > Literal[value=/${regex.replaceAll('/', '\\/')}/]`, message }],
    },
  };
}

const ALL_FOLDERS = ['bench', 'bin', 'certs', 'collector', 'controller', 'lab', 'scripts', 'sidecar', 'test', 'webhook'];

export default tseslint.config(
  { ignores: ['node_modules/**', 'coverage/**', '.tap/**', 'out/**', 'dist/**', 'dashboard/dist/**', 'collector/dashboard/dist/**'] },
  {
    files: ['**/*.ts'],
    extends: [tseslint.configs.recommended],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: false }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  forbid(
    ['record/**/*.ts', 'lib/**/*.ts'],
    ALL_FOLDERS,
    'record/ and lib/ are what every component builds on: they import only each other, node and packages, never a component or a harness',
  ),
  forbid(
    ['collector/**/*.ts'],
    ['certs', 'controller', 'sidecar', 'webhook'],
    'The collector stands alone: it imports record/ and lib/ (Kubernetes inventory, TLS directories), never the CA, the controller, the sidecar or the webhook',
  ),
  forbid(
    ['certs/**/*.ts'],
    ['collector', 'controller', 'sidecar', 'webhook'],
    'The CA is run by the controller and called by sidecars; it imports record/ and lib/ (Kubernetes client, PEM files), never the components that use it',
  ),
  forbid(
    ['controller/**/*.ts'],
    ['collector', 'sidecar', 'webhook'],
    'The controller runs the CA and is handed the webhook by the command (bin/meshtap.ts, see controller/webhook-part.ts); what it shares with the collector, the sidecar or the webhook belongs in lib/ or record/',
  ),
  forbid(
    ['sidecar/**/*.ts'],
    ['collector', 'controller', 'webhook'],
    'The sidecar talks to the collector, the controller and the CA only over the wire contracts in record/; shared code belongs in lib/',
  ),
);
