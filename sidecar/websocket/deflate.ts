/**
 * permessage-deflate (RFC 7692) for display: each compressed message is raw DEFLATE ending
 * with an empty stored block whose 4 trailing bytes the sender dropped. With context takeover
 * (the default) a message may refer back into the previous ones' output, so each direction
 * keeps the last 32 KiB of its decompressed output as the dictionary for the next message —
 * synchronous and stateless per call, bounded in output.
 */
import zlib from 'node:zlib';

const TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);
const WINDOW = 32 * 1024;
/** Largest decompressed message followed (a bigger one loses the context for the rest). */
export const MAX_INFLATED = 4 * 1024 * 1024;

export interface Inflater {
  /** The message's payload decompressed, at most `maxOutput` bytes (`truncated` beyond). */
  inflate(payload: Uint8Array, maxOutput: number): { data: Buffer; truncated: boolean };
  /** A message went by undecoded (cut or skipped): later ones may not decode. */
  lose(): void;
}

export interface DeflateParams {
  /** `*_no_context_takeover` for this direction's sender. */
  noContextTakeover: boolean;
}

/** The extension's parameters for each direction, from the 101's `Sec-WebSocket-Extensions`. */
export function negotiatedDeflate(extensions: string | undefined): { client: DeflateParams; server: DeflateParams } | undefined {
  if (extensions === undefined) return undefined;
  for (const ext of extensions.split(',')) {
    const parts = ext.split(';').map((p) => p.trim().toLowerCase());
    if (parts[0] !== 'permessage-deflate') continue;
    return {
      client: { noContextTakeover: parts.includes('client_no_context_takeover') },
      server: { noContextTakeover: parts.includes('server_no_context_takeover') },
    };
  }
  return undefined;
}

export function createInflater(params: DeflateParams): Inflater {
  let window: Buffer | undefined;
  let lost = false;
  return {
    inflate(payload, maxOutput) {
      if (lost && !params.noContextTakeover) throw new Error('an earlier compressed message was not captured: its context is lost');
      const input = Buffer.concat([payload, TAIL]);
      // The whole message is needed for the next one's context, not only what is shown.
      const opts: zlib.ZlibOptions = { finishFlush: zlib.constants.Z_SYNC_FLUSH, maxOutputLength: Math.max(maxOutput, MAX_INFLATED) };
      if (!params.noContextTakeover && window !== undefined) opts.dictionary = window;
      let data: Buffer;
      let truncated = false;
      try {
        data = zlib.inflateRawSync(input, opts);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ERR_BUFFER_TOO_LARGE') throw err;
        // Too large to follow: the context for later messages is lost with it.
        lost = true;
        return { data: Buffer.alloc(0), truncated: true };
      }
      if (!params.noContextTakeover) window = (window === undefined ? data : Buffer.concat([window, data])).subarray(-WINDOW);
      if (data.length > maxOutput) {
        data = data.subarray(0, maxOutput);
        truncated = true;
      }
      return { data: Buffer.from(data), truncated };
    },
    lose() {
      lost = true;
    },
  };
}
