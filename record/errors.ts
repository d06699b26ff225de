/** Error codes of the wire contracts (record codec and JSON form), shared by sidecar and collector. */
export const REC_ERR_DECODE = 'REC_ERR_DECODE';
export const REC_ERR_BAD_RECORD = 'REC_ERR_BAD_RECORD';
