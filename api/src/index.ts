/**
 * @sourced/api: the sourced gRPC contract (`proto/sourced/v1`) for TypeScript.
 *
 * - The generated messages, enums and grpc-js service clients of `sourced.v1` (ts-proto), and
 *   google.protobuf.Struct, re-exported here by name (generated with `exportCommonSymbols=false`,
 *   so no two modules export the same name). Each generated module is also its own subpath
 *   (`@sourced/api/sourced/v1/discovery`, `@sourced/api/google/protobuf/struct`).
 * - The google.rpc status codec: the `grpc-status-details-bin` trailer with BadRequest,
 *   ErrorInfo and RetryInfo ({@link encodeRichStatus}, {@link decodeRichStatus},
 *   {@link decodeStatusDetails}).
 * - {@link createClients}: both service clients on one channel.
 * - {@link readDescriptorSet}: the contract's descriptors as `buf build` made them (what the
 *   daemon's reflection serves, google.rpc details included).
 */
export * from './gen/sourced/v1/data_source';
export * from './gen/sourced/v1/data_source_service';
export * from './gen/sourced/v1/discovery';
export * from './gen/sourced/v1/plugin_service';
export * from './gen/sourced/v1/preview';
export * from './gen/sourced/v1/profile';
export * from './gen/sourced/v1/secret_service';
export * from './gen/sourced/v1/validation';
export * from './gen/google/protobuf/struct';
export type { DeepPartial, Exact, MessageFns } from './messageFns';
export * from './richStatus';
export * from './client';
export { DESCRIPTOR_SET_PATH, readDescriptorSet } from './descriptors';
/** The wire writer the generated encoders use (for encoders written beside them, as the daemon's for discovery batches). */
export { BinaryWriter } from '@bufbuild/protobuf/wire';
