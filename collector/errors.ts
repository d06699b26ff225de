/** The collector's error codes. They also appear in HTTP error bodies (`{ error: { code, message } }`). */
export const COL_ERR_CONFIG = 'COL_ERR_CONFIG';
export const COL_ERR_BAD_QUERY = 'COL_ERR_BAD_QUERY';
export const COL_ERR_NOT_FOUND = 'COL_ERR_NOT_FOUND';
export const COL_ERR_FILTER_UNSUPPORTED = 'COL_ERR_FILTER_UNSUPPORTED';
export const COL_ERR_STORE = 'COL_ERR_STORE';
export const COL_ERR_INTERNAL = 'COL_ERR_INTERNAL';
export const COL_ERR_LISTEN = 'COL_ERR_LISTEN';
export const COL_ERR_TLS = 'COL_ERR_TLS';
export const COL_ERR_UNAUTHENTICATED = 'COL_ERR_UNAUTHENTICATED';
export const COL_ERR_AUTH_UNAVAILABLE = 'COL_ERR_AUTH_UNAVAILABLE';
export const COL_ERR_AUTH_CONFIG = 'COL_ERR_AUTH_CONFIG';
export const COL_ERR_HOST = 'COL_ERR_HOST';
