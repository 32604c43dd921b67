import { credentials, loadPackageDefinition, type Client, type ClientDuplexStream } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { FileDescriptorProto, FileDescriptorSet } from 'protobufjs/ext/descriptor';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DESCRIPTOR_SET_PATH } from '@sourced/api';
import { startTestDaemon, type TestDaemon } from './support/testDaemon';

/**
 * What the daemon's reflection serves for the contract: the descriptors `buf build` wrote
 * (@sourced/api's sourced.binpb), google.rpc's error details included, asked over the
 * reflection protocol (v1) by a grpc-js client, as a reflection client such as grpcurl asks.
 */

interface FileDescriptor {
  name: string;
  package: string;
  dependency: string[];
  messageType: {
    name: string;
    field: { name: string; number: number; typeName?: string }[];
    nestedType: { name: string; options?: { mapEntry?: boolean } }[];
  }[];
}
interface ReflectionResponse {
  fileDescriptorResponse?: { fileDescriptorProto: Buffer[] };
  errorResponse?: { errorCode: number; errorMessage: string };
}
type ReflectionClient = Client & { ServerReflectionInfo(): ClientDuplexStream<object, ReflectionResponse> };

const decode = (bin: Uint8Array) => FileDescriptorProto.decode(bin) as unknown as FileDescriptor;

describe('reflection descriptors', () => {
  let t: TestDaemon;
  let client: ReflectionClient;
  beforeAll(async () => {
    t = await startTestDaemon();
    const definition = loadSync(resolve(__dirname, '../node_modules/@grpc/reflection/build/proto/grpc/reflection/v1/reflection.proto'), { keepCase: false });
    const Reflection = (
      loadPackageDefinition(definition) as never as {
        grpc: { reflection: { v1: { ServerReflection: new (address: string, creds: unknown) => ReflectionClient } } };
      }
    ).grpc.reflection.v1.ServerReflection;
    client = new Reflection(t.address, credentials.createInsecure());
  });
  afterAll(async () => {
    client?.close();
    await t?.stop();
  });

  /** One request on the reflection stream, and its answer. */
  function ask(request: object): Promise<ReflectionResponse> {
    return new Promise((resolveAnswer, reject) => {
      const stream = client.ServerReflectionInfo();
      stream.once('data', (response: ReflectionResponse) => {
        resolveAnswer(response);
        stream.end();
      });
      stream.once('error', reject);
      stream.write(request);
    });
  }

  it('serves the google.rpc error details by symbol, as buf built them', async () => {
    for (const symbol of ['google.rpc.BadRequest', 'google.rpc.ErrorInfo', 'google.rpc.RetryInfo', 'google.rpc.Status']) {
      const answer = await ask({ fileContainingSymbol: symbol });
      expect(answer.errorResponse, symbol).toBeUndefined();
      const files = answer.fileDescriptorResponse!.fileDescriptorProto.map(decode);
      const owner = files[0];
      expect(owner.package).toBe('google.rpc');
      expect(owner.messageType.map((m) => `google.rpc.${m.name}`)).toContain(symbol);
      // Every import of the file travels with it (Duration, Any).
      expect(
        files
          .slice(1)
          .map((f) => f.name)
          .sort(),
      ).toEqual([...owner.dependency].sort());
    }
    const details = decode((await ask({ fileContainingSymbol: 'google.rpc.BadRequest' })).fileDescriptorResponse!.fileDescriptorProto[0]);
    const badRequest = details.messageType.find((m) => m.name === 'BadRequest')!;
    expect(badRequest.field.map((f) => [f.name, f.number, f.typeName])).toEqual([['field_violations', 1, '.google.rpc.BadRequest.FieldViolation']]);
    const errorInfo = details.messageType.find((m) => m.name === 'ErrorInfo')!;
    expect(errorInfo.nestedType.map((n) => [n.name, n.options?.mapEntry])).toEqual([['MetadataEntry', true]]);
  });

  it('serves each contract file exactly as the descriptor set holds it', async () => {
    const set = FileDescriptorSet.decode(readFileSync(DESCRIPTOR_SET_PATH)) as unknown as { file: FileDescriptor[] };
    const contract = set.file.filter((f) => f.name.startsWith('sourced/v1/'));
    expect(contract.map((f) => f.name).sort()).toEqual(
      ['data_source', 'data_source_service', 'discovery', 'errors', 'plugin_service', 'preview', 'profile', 'secret_service', 'validation'].map(
        (n) => `sourced/v1/${n}.proto`,
      ),
    );
    for (const file of contract) {
      const answer = await ask({ fileByFilename: file.name });
      const served = decode(answer.fileDescriptorResponse!.fileDescriptorProto[0]);
      expect(served.name).toBe(file.name);
      expect(served.dependency).toEqual(file.dependency);
      expect(served.messageType.map((m) => m.name)).toEqual(file.messageType.map((m) => m.name));
    }
  });
});
