/**
 * The injector's options from a YAML file: the webhook's `--config` (its ConfigMap) and, with the
 * same file, `meshtap inject --config`, so offline injection can match a customised webhook.
 * Read as meshtap's own configuration (YAML 1.2: `collectorTls: off` is the string it names),
 * not as a Kubernetes manifest.
 */
import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { JSON_YAML_OPTIONS } from '../lib/yaml-json.ts';
import type { InjectorOptions } from './injector-config.ts';

/** What went wrong with the file, as a sentence naming it; the caller picks the error code. */
export class InjectorConfigFileError extends Error {}

/** The mapping the file holds (unchecked: `resolveInjectorConfig` checks and names its keys); an empty file is `{}`. */
export async function readInjectorOptionsFile(file: string, flag = '--config'): Promise<InjectorOptions> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new InjectorConfigFileError(`cannot read ${flag} ${file}: ${(err as Error).message}`, { cause: err });
  }
  let doc: unknown;
  try {
    doc = parseYaml(text, JSON_YAML_OPTIONS);
  } catch (err) {
    throw new InjectorConfigFileError(`${flag} ${file} is not valid YAML: ${(err as Error).message}`, { cause: err });
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new InjectorConfigFileError(`${flag} ${file} must be a YAML mapping of injector options`);
  return doc as InjectorOptions;
}
