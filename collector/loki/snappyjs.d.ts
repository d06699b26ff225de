/** The part of `snappyjs` (snappy block format, pure JS) the Loki output uses. */
declare module 'snappyjs' {
  /** Returns the same kind of value it is given (Buffer, Uint8Array or ArrayBuffer). */
  export function compress<T extends Uint8Array | ArrayBuffer>(input: T): T;
  export function uncompress<T extends Uint8Array | ArrayBuffer>(input: T, maxLength?: number): T;
}
