/**
 * Error catalog of the injector and `meshtap inject`. Skips are not errors: they are
 * `SkipReason` values (see reasons.ts).
 */
import { defineErrors, type ErrorCodeOf } from '../lib/errors.ts';

export { MeshtapError, isMeshtapError } from '../lib/errors.ts';

export const INJ_ERR_CONFIG = 'INJ_ERR_CONFIG';
export const INJ_ERR_PARSE = 'INJ_ERR_PARSE';
export const INJ_ERR_READ = 'INJ_ERR_READ';

export const injectorErrors = defineErrors(
  { component: 'webhook', title: 'the injector and `meshtap inject`', prefix: 'INJ_ERR_' },
  {
    [INJ_ERR_CONFIG]: {
      summary: 'An injector option has a bad value or an unknown key (a renamed key fails with a hint).',
      action: 'Fix the option the message names in the webhook\'s `--config` file or the `meshtap inject` flags.',
    },
    [INJ_ERR_PARSE]: {
      summary: 'An input document of `meshtap inject` could not be parsed (YAML/JSON syntax).',
      action: 'Fix the document the message names (it gives the document number and the parser\'s reason).',
    },
    [INJ_ERR_READ]: {
      summary: 'An input file or stream of `meshtap inject` could not be read.',
      action: 'Check the path given to `-f` exists and is readable.',
    },
  },
);

export type InjectorErrorCode = ErrorCodeOf<typeof injectorErrors>;
