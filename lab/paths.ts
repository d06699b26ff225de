/** Where the repository's own programs are, so the lab runs them on the pinned Node. */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MeshtapError } from '../lib/errors.ts';
import { LAB_ERR_SCENARIO } from './errors.ts';
import type { ScenarioFile } from './scenario.ts';

export const REPO = fileURLToPath(new URL('..', import.meta.url)).replace(/\/$/, '');
/** npm installs the pinned Node here; the machine's own `node` may be older. */
export const NODE = join(REPO, 'node_modules/.bin/node');
export const MESHTAP_BIN = join(REPO, 'bin/meshtap.ts');
export const APPS_DIR = join(REPO, 'lab/apps');
export const SCENARIOS_DIR = join(REPO, 'lab/scenarios');
export const DEFAULT_SCENARIO = 'shop';
export const FALLBACK_SCENARIO = 'hello';

/** PATH for every process the lab starts: the pinned Node first. */
export const LAB_PATH = `${join(REPO, 'node_modules/.bin')}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`;

export function demoApps(): Set<string> {
  try {
    return new Set(readdirSync(APPS_DIR).filter((f) => f.endsWith('.ts') && !f.startsWith('_')).map((f) => f.slice(0, -3)));
  } catch {
    return new Set();
  }
}

export interface ResolvedScenario {
  name: string;
  dir: string;
  files: ScenarioFile[];
  /** Set when the default scenario was missing and another one was used. */
  note?: string;
}

/** `NAME` is a built-in scenario; anything with a slash, or an existing directory, is a directory. */
export function resolveScenario(arg: string | undefined, cwd: string): ResolvedScenario {
  let note: string | undefined;
  let dir: string;
  const requested = arg ?? DEFAULT_SCENARIO;
  if (requested.includes('/') || (arg !== undefined && existsSync(resolve(cwd, requested)) && statSync(resolve(cwd, requested)).isDirectory() && !existsSync(join(SCENARIOS_DIR, requested)))) {
    dir = resolve(cwd, requested);
  } else {
    dir = join(SCENARIOS_DIR, requested);
    if (arg === undefined && !existsSync(dir)) {
      note = `the default scenario "${DEFAULT_SCENARIO}" does not exist yet; using "${FALLBACK_SCENARIO}"`;
      dir = join(SCENARIOS_DIR, FALLBACK_SCENARIO);
    }
  }
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    const builtIn = existsSync(SCENARIOS_DIR) ? readdirSync(SCENARIOS_DIR).sort().join(', ') : 'none';
    throw new MeshtapError(LAB_ERR_SCENARIO, `no scenario at ${dir} (built-in scenarios: ${builtIn}; or give a directory of Kubernetes YAML)`);
  }
  const files = readdirSync(dir)
    .filter((f) => /\.ya?ml$/.test(f))
    .sort()
    .map((f) => ({ path: join(basename(dir), f), text: readFileSync(join(dir, f), 'utf8') }));
  return { name: basename(dir), dir, files, ...(note ? { note } : {}) };
}
