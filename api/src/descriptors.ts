import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The path of the contract's descriptors as `buf build` writes them at build time (a
 * google.protobuf.FileDescriptorSet, with source comments): every file of proto/, the
 * google.rpc status and error details, and the google.protobuf types they import. Also the
 * package's `@sourced/api/sourced.binpb` export, for tools (`grpcurl -protoset`).
 */
export const DESCRIPTOR_SET_PATH = join(__dirname, 'sourced.binpb');

/** The serialized FileDescriptorSet at {@link DESCRIPTOR_SET_PATH} (what the daemon's reflection serves). */
export function readDescriptorSet(): Buffer {
  return readFileSync(DESCRIPTOR_SET_PATH);
}
