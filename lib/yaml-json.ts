/**
 * How meshtap reads YAML: as the JSON it stands for, as kubectl does. The `yaml` library resolves
 * some YAML 1.1 tags even in a YAML 1.2 document (`!!binary` to a Buffer, `!!set`, `!!omap`,
 * `!!timestamp`); a Buffer then travelled through `structuredClone` as a view of Node's shared
 * 64 KiB pool, which the library's writer printed whole: `meshtap inject` wrote 64 KiB of the
 * process's memory into its output for `args: [!!binary AAAA]`. Unresolved, such a tag leaves
 * the plain value (a string, a mapping) and a warning.
 */
export const JSON_YAML_OPTIONS = { resolveKnownTags: false } as const;
