/** Error codes of the wire contracts (record codec and JSON form), shared by sidecar and collector. */
import { defineErrors } from '../lib/errors.ts';

export const REC_ERR_DECODE = 'REC_ERR_DECODE';
export const REC_ERR_BAD_RECORD = 'REC_ERR_BAD_RECORD';

export const recordErrors = defineErrors(
  { component: 'record', title: 'wire contracts: record codec and JSON form', prefix: 'REC_ERR_' },
  {
    [REC_ERR_DECODE]: {
      summary: 'A call record received as protobuf is malformed (a required field is missing or a value is out of range).',
      action: 'The sender runs a meshtap version with another record contract, or the bytes were damaged: run the same meshtap version for sidecars and collector.',
    },
    [REC_ERR_BAD_RECORD]: {
      summary: 'A call record in its JSON form has a field of the wrong type (a nanosecond time or counter that is not a decimal string).',
      action: 'The JSON was not written by this meshtap version (a store of another version, or hand-made JSON): point the collector at a fresh store, or write times and counters as decimal strings.',
    },
  },
);

