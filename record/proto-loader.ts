/**
 * The one way meshtap loads its `.proto` contracts: every file under `proto/`, with field names
 * as written (keepCase), enums as strings, absent scalars as their defaults. Only the
 * representation of 64-bit integers differs per contract, and each contract says which it uses.
 */
import { fileURLToPath } from 'node:url';
import * as protoLoader from '@grpc/proto-loader';

export const PROTO_ROOT = fileURLToPath(new URL('../proto', import.meta.url));

/** `String` keeps int64 exact (record times); `Number` suits counters and Unix milliseconds. */
export type LongsAs = typeof String | typeof Number;

export function protoLoaderOptions(longs: LongsAs): protoLoader.Options {
  return Object.freeze({
    keepCase: true,
    longs,
    enums: String,
    defaults: true,
    arrays: true,
    objects: true,
    oneofs: false,
    includeDirs: [PROTO_ROOT],
  });
}

const cache = new Map<string, protoLoader.PackageDefinition>();

/** The package definition of `meshtap/v1/<file>` (and what it imports), loaded once per options. */
export function loadProto(file: string, longs: LongsAs): protoLoader.PackageDefinition {
  const key = `${file}|${longs.name}`;
  let def = cache.get(key);
  if (def === undefined) {
    def = protoLoader.loadSync(file, protoLoaderOptions(longs));
    cache.set(key, def);
  }
  return def;
}
