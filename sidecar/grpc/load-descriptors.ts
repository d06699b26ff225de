/**
 * The IO edge of gRPC schemas: the command reads the FileDescriptorSet files named by
 * `MESHTAP_GRPC_DESCRIPTORS` once at start (a missing or malformed file stops the sidecar with
 * its name), and the capture worker builds the schema from the bytes it is handed.
 */
import { readFileSync } from 'node:fs';
import { addDescriptorSet, emptySchema, type GrpcSchema } from './descriptors.ts';

/** Each file's bytes, checked to parse and to define at least one service. Throws with the file's name. */
export function readGrpcDescriptors(paths: readonly string[]): Uint8Array[] {
  return paths.map((path) => {
    let bytes: Uint8Array;
    try {
      bytes = readFileSync(path);
    } catch (err) {
      throw new Error(`cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    let schema: GrpcSchema;
    try {
      schema = addDescriptorSet(emptySchema(), bytes);
    } catch (err) {
      throw new Error(`${path} is not a FileDescriptorSet: ${(err as Error).message}`);
    }
    if (schema.methods.size === 0) throw new Error(`${path} defines no gRPC service (was it built with --include_imports from the service's .proto?)`);
    return bytes;
  });
}

/** The schema of already-checked descriptor sets; undefined when there are none. */
export function grpcSchemaOf(sets: readonly Uint8Array[] | undefined): GrpcSchema | undefined {
  if (sets === undefined || sets.length === 0) return undefined;
  const schema = emptySchema();
  for (const bytes of sets) addDescriptorSet(schema, bytes);
  return schema;
}
