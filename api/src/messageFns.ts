import type { BinaryReader, BinaryWriter } from '@bufbuild/protobuf/wire';

/*
 * The helper types of ts-proto's generated code, as it writes them into every module (with
 * this repository's options: oneof=unions-value). The modules are generated with
 * `exportCommonSymbols=false`, so that the root of @sourced/api can re-export all of them by
 * name; these are the exported copies (test/api.client.test.ts type-checks that each generated
 * message's codec is a `MessageFns` of it).
 */

// eslint-disable-next-line @typescript-eslint/no-unsafe-function-type -- ts-proto's own definition, kept identical so the generated codecs are MessageFns of these types
type Builtin = Date | Function | Uint8Array | string | number | boolean | undefined;

/** A message with every field optional, at every depth (what `create` and `fromPartial` take). */
export type DeepPartial<T> = T extends Builtin
  ? T
  : T extends globalThis.Array<infer U>
    ? globalThis.Array<DeepPartial<U>>
    : T extends ReadonlyArray<infer U>
      ? ReadonlyArray<DeepPartial<U>>
      : T extends { $case: string; value: unknown }
        ? { $case: T['$case']; value?: DeepPartial<T['value']> }
        : // eslint-disable-next-line @typescript-eslint/no-empty-object-type -- ts-proto's own definition, kept identical (see Builtin)
          T extends {}
          ? { [K in keyof T]?: DeepPartial<T[K]> }
          : Partial<T>;

type KeysOfUnion<T> = T extends T ? keyof T : never;

/** `I`, refused when it has a key `P` does not (so a misspelt field in `fromPartial` is a type error). */
export type Exact<P, I extends P> = P extends Builtin ? P : P & { [K in keyof P]: Exact<P[K], I[K]> } & { [K in Exclude<keyof I, KeysOfUnion<P>>]: never };

/** The codec of one message type: `DataSource.encode(...)`, `DataSource.fromPartial(...)`. */
export interface MessageFns<T> {
  /** Writes the message in the protobuf binary form (`.finish()` gives the bytes). */
  encode(message: T, writer?: BinaryWriter): BinaryWriter;
  /** Reads a message from the protobuf binary form. */
  decode(input: BinaryReader | Uint8Array, length?: number): T;
  /** Reads a message from its canonical proto3 JSON form. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the generated codecs' own signature (see Builtin): any JSON value is taken
  fromJSON(object: any): T;
  /** The message in its canonical proto3 JSON form. */
  toJSON(message: T): unknown;
  /** A message with every field at its default, then the given ones. */
  create<I extends Exact<DeepPartial<T>, I>>(base?: I): T;
  /** A message from a partial object (missing fields at their defaults). */
  fromPartial<I extends Exact<DeepPartial<T>, I>>(object: I): T;
}
