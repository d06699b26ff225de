/**
 * Error codes of the wire contracts, shared by sidecar and collector. The proto codec reports a
 * malformed record as a value (`decodeRecord`), so only the JSON form throws.
 */
import { defineErrors } from '../lib/errors.ts';

export const REC_ERR_BAD_RECORD = 'REC_ERR_BAD_RECORD';

export const recordErrors = defineErrors(
  { component: 'record', title: 'wire contracts: record codec and JSON form', prefix: 'REC_ERR_' },
  {
    [REC_ERR_BAD_RECORD]: {
      summary: 'A call record in its JSON form has a field of the wrong type (a nanosecond time or counter that is not a decimal string).',
      action: 'The JSON was not written by this meshtap version (a store of another version, or hand-made JSON): point the collector at a fresh store, or write times and counters as decimal strings.',
    },
  },
);

