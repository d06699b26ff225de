/**
 * Error catalog of the injector and `meshtap inject`. Skips are not errors: they are
 * `SkipReason` values (see reasons.ts).
 */
export { MeshtapError, isMeshtapError } from '../lib/errors.ts';

/** An injector option has a bad value or an unknown key. */
export const INJ_ERR_CONFIG = 'INJ_ERR_CONFIG';
/** An input document could not be parsed (YAML/JSON syntax). */
export const INJ_ERR_PARSE = 'INJ_ERR_PARSE';
/** An input file or stream could not be read. */
export const INJ_ERR_READ = 'INJ_ERR_READ';

export type InjectorErrorCode = typeof INJ_ERR_CONFIG | typeof INJ_ERR_PARSE | typeof INJ_ERR_READ;
