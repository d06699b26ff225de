/**
 * Error codes of the wire contracts, shared by sidecar and collector. The proto codec reports a
 * malformed record as a value (`decodeRecord`), so only the JSON form throws.
 */
export const REC_ERR_BAD_RECORD = 'REC_ERR_BAD_RECORD';
