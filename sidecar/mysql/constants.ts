/**
 * The numbers of the MySQL/MariaDB client/server protocol that capture needs: capability and
 * status flags, command bytes, column types.
 */

/** Capability flags (the lower 32 bits, shared by MySQL and MariaDB). */
export const CLIENT = {
  /** MariaDB servers clear it: their extended capabilities sit in the greeting's reserved bytes. */
  LONG_PASSWORD: 0x1,
  CONNECT_WITH_DB: 0x8,
  COMPRESS: 0x20,
  PROTOCOL_41: 0x200,
  SSL: 0x800,
  TRANSACTIONS: 0x2000,
  SECURE_CONNECTION: 0x8000,
  MULTI_RESULTS: 0x20000,
  PLUGIN_AUTH: 0x80000,
  CONNECT_ATTRS: 0x100000,
  PLUGIN_AUTH_LENENC_CLIENT_DATA: 0x200000,
  SESSION_TRACK: 0x800000,
  DEPRECATE_EOF: 0x1000000,
  OPTIONAL_RESULTSET_METADATA: 0x2000000,
  ZSTD_COMPRESSION: 0x4000000,
  QUERY_ATTRIBUTES: 0x8000000,
} as const;

/** MariaDB extended capabilities (bits 32..63, sent separately). */
export const MARIADB = {
  STMT_BULK_OPERATIONS: 0x4,
  EXTENDED_METADATA: 0x8,
  CACHE_METADATA: 0x10,
} as const;

/** Server status flags (OK, EOF). */
export const STATUS = {
  MORE_RESULTS_EXISTS: 0x8,
  CURSOR_EXISTS: 0x40,
  SESSION_STATE_CHANGED: 0x4000,
} as const;

export const COM = {
  SLEEP: 0x00,
  QUIT: 0x01,
  INIT_DB: 0x02,
  QUERY: 0x03,
  FIELD_LIST: 0x04,
  CREATE_DB: 0x05,
  DROP_DB: 0x06,
  REFRESH: 0x07,
  SHUTDOWN: 0x08,
  STATISTICS: 0x09,
  PROCESS_INFO: 0x0a,
  CONNECT: 0x0b,
  PROCESS_KILL: 0x0c,
  DEBUG: 0x0d,
  PING: 0x0e,
  TIME: 0x0f,
  DELAYED_INSERT: 0x10,
  CHANGE_USER: 0x11,
  BINLOG_DUMP: 0x12,
  TABLE_DUMP: 0x13,
  CONNECT_OUT: 0x14,
  REGISTER_SLAVE: 0x15,
  STMT_PREPARE: 0x16,
  STMT_EXECUTE: 0x17,
  STMT_SEND_LONG_DATA: 0x18,
  STMT_CLOSE: 0x19,
  STMT_RESET: 0x1a,
  SET_OPTION: 0x1b,
  STMT_FETCH: 0x1c,
  DAEMON: 0x1d,
  BINLOG_DUMP_GTID: 0x1e,
  RESET_CONNECTION: 0x1f,
  STMT_BULK_EXECUTE: 0xfa,
} as const;

/** `method` of commands other than queries and prepared statements. */
export const COMMAND_NAMES: Record<number, string> = {
  [COM.SLEEP]: 'SLEEP',
  [COM.INIT_DB]: 'USE',
  [COM.FIELD_LIST]: 'FIELD_LIST',
  [COM.CREATE_DB]: 'CREATE_DB',
  [COM.DROP_DB]: 'DROP_DB',
  [COM.REFRESH]: 'REFRESH',
  [COM.SHUTDOWN]: 'SHUTDOWN',
  [COM.STATISTICS]: 'STATISTICS',
  [COM.PROCESS_INFO]: 'PROCESS_INFO',
  [COM.PROCESS_KILL]: 'KILL',
  [COM.DEBUG]: 'DEBUG',
  [COM.PING]: 'PING',
  [COM.CHANGE_USER]: 'CHANGE_USER',
  [COM.BINLOG_DUMP]: 'BINLOG_DUMP',
  [COM.REGISTER_SLAVE]: 'REGISTER_SLAVE',
  [COM.QUERY]: 'QUERY',
  [COM.STMT_PREPARE]: 'PREPARE',
  [COM.STMT_EXECUTE]: 'EXECUTE',
  [COM.STMT_CLOSE]: 'CLOSE',
  [COM.STMT_RESET]: 'RESET',
  [COM.SET_OPTION]: 'SET_OPTION',
  [COM.STMT_FETCH]: 'FETCH',
  [COM.BINLOG_DUMP_GTID]: 'BINLOG_DUMP_GTID',
  [COM.RESET_CONNECTION]: 'RESET_CONNECTION',
  [COM.STMT_BULK_EXECUTE]: 'BULK_EXECUTE',
};

/** Column / parameter types. */
export const TYPE = {
  DECIMAL: 0x00,
  TINY: 0x01,
  SHORT: 0x02,
  LONG: 0x03,
  FLOAT: 0x04,
  DOUBLE: 0x05,
  NULL: 0x06,
  TIMESTAMP: 0x07,
  LONGLONG: 0x08,
  INT24: 0x09,
  DATE: 0x0a,
  TIME: 0x0b,
  DATETIME: 0x0c,
  YEAR: 0x0d,
  NEWDATE: 0x0e,
  VARCHAR: 0x0f,
  BIT: 0x10,
  TIMESTAMP2: 0x11,
  DATETIME2: 0x12,
  TIME2: 0x13,
  JSON: 0xf5,
  NEWDECIMAL: 0xf6,
  ENUM: 0xf7,
  SET: 0xf8,
  TINY_BLOB: 0xf9,
  MEDIUM_BLOB: 0xfa,
  LONG_BLOB: 0xfb,
  BLOB: 0xfc,
  VAR_STRING: 0xfd,
  STRING: 0xfe,
  GEOMETRY: 0xff,
} as const;

/** The `binary` character set: string-family values in it are bytes, rendered as hex. */
export const BINARY_CHARSET = 63;
/** Column flag: the integer is unsigned. */
export const UNSIGNED_FLAG = 0x20;
/** Parameter type flag (second byte of a bound type): the integer is unsigned. */
export const PARAM_UNSIGNED = 0x80;

/** A physical packet of this payload length continues in the next one. */
export const MAX_PACKET_PAYLOAD = 0xffffff;
