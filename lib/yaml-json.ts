import type { Document, Tags } from 'yaml';

/**
 * How meshtap reads YAML: as the JSON it stands for, as kubectl does. The `yaml` library resolves
 * some YAML 1.1 tags even in a YAML 1.2 document (`!!binary` to a Buffer, `!!set`, `!!omap`,
 * `!!timestamp`); a Buffer then travelled through `structuredClone` as a view of Node's shared
 * 64 KiB pool, which the library's writer printed whole: `meshtap inject` wrote 64 KiB of the
 * process's memory into its output for `args: [!!binary AAAA]`. Unresolved, such a tag leaves
 * the plain value (a string, a mapping) and a warning.
 */
export const JSON_YAML_OPTIONS = { resolveKnownTags: false } as const;

/** YAML 1.1's tags for values JSON has no form for (`!!binary`, `!!set`, …): left unresolved, as above. */
const BEYOND_JSON = new Set(['tag:yaml.org,2002:binary', 'tag:yaml.org,2002:set', 'tag:yaml.org,2002:omap', 'tag:yaml.org,2002:pairs']);
const tagName = (t: Tags[number]): string => (typeof t === 'string' ? t : t.tag);
const isTime = (t: Tags[number]): boolean => typeof t !== 'string' && (('format' in t && t.format === 'TIME') || t.tag === 'tag:yaml.org,2002:timestamp');

/**
 * Kubernetes manifests (`meshtap inject`, lab scenarios) are read as kubectl reads them: YAML 1.1
 * scalars, so `hostNetwork: yes` is true and `value: on` a boolean, as the API server would get
 * them (kubectl's YAML reader follows YAML 1.1), not the strings YAML 1.2 makes of them. Base-60
 * numbers (`1:20`) and timestamps stay strings, as they do for kubectl.
 */
export const KUBERNETES_YAML_OPTIONS = {
  ...JSON_YAML_OPTIONS,
  version: '1.1',
  customTags: (tags: Tags): Tags => tags.filter((t) => !BEYOND_JSON.has(tagName(t)) && !isTime(t)),
} as const;

/**
 * A manifest written for kubectl: a string any YAML 1.1 reader would take for something else
 * (`on`, `yes`, `1_000`, `1:20`, `2001-12-14`) is quoted. Written as YAML 1.2, the sidecar's
 * `MESHTAP_COLLECTOR_TLS: on` reached kubectl as a boolean.
 */
export function kubernetesYaml(doc: Document): string {
  doc.setSchema('1.1', { customTags: (tags: Tags): Tags => tags.filter((t) => !BEYOND_JSON.has(tagName(t))) });
  return doc.toString({ lineWidth: 0 });
}
