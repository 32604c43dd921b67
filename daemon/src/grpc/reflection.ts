import { loadSync, type PackageDefinition } from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import { readDescriptorSet } from '@sourced/api';
import { protoPath as healthProtoPath } from 'grpc-health-check';
import { FileDescriptorProto, FileDescriptorSet } from 'protobufjs/ext/descriptor';

/**
 * A reflection service (v1 and v1alpha) describing every service the daemon serves, the
 * health service included, so `grpcurl` and `buf curl` work with no .proto files.
 *
 * The contract's files come from the descriptor set `buf build` wrote at build time
 * (@sourced/api's `readDescriptorSet`): exact descriptors, with their comments, and with the
 * google.rpc Status and error details, so a reflection client can resolve the types of an
 * error's details (grpcurl looks them up by symbol; buf curl 1.75 prints details it has not
 * linked in as base64 whatever the server serves). The health service's file
 * comes from grpc-health-check's .proto through proto-loader, repaired ({@link fixDescriptors}).
 */
export function createReflectionService(): ReflectionService {
  const health = fixDescriptors(loadSync(healthProtoPath, { keepCase: true }));
  return new ReflectionService({ ...health, ...contractDescriptors() });
}

/**
 * The contract's FileDescriptorSet as a package definition for the reflection service: one
 * entry per file (the service reads only each entry's `fileDescriptorProtos`).
 */
export function contractDescriptors(): PackageDefinition {
  const set = FileDescriptorSet.decode(readDescriptorSet()) as unknown as { file: { name: string }[] };
  const definition: PackageDefinition = {};
  for (const file of set.file) {
    // Not a full message definition (no serializer): the reflection service reads only this.
    const entry = { fileDescriptorProtos: [Buffer.from(FileDescriptorProto.encode(file as never).finish())] };
    definition[`file ${file.name}`] = entry as unknown as PackageDefinition[string];
  }
  return definition;
}

/**
 * Repairs two defects of the descriptors protobufjs builds from a .proto file (the health
 * service's here), which make Go reflection clients
 * (grpcurl, buf curl) reject the whole schema:
 * - a map field's synthetic entry message is named after the field (`Fields`), not `FieldsEntry`;
 * - a file that uses a type from another file (our Struct fields) does not list that file
 *   in `dependency`.
 */
export function fixDescriptors(definition: PackageDefinition): PackageDefinition {
  const decoded = new Map<Buffer, FileDescriptor>();
  for (const value of Object.values(definition)) {
    for (const bin of (value as { fileDescriptorProtos?: Buffer[] }).fileDescriptorProtos ?? []) {
      if (!decoded.has(bin)) decoded.set(bin, FileDescriptorProto.decode(bin) as unknown as FileDescriptor);
    }
  }
  // Every fully-qualified type name, and the file that defines it.
  const owner = new Map<string, string>();
  const index = (m: MessageDescriptor | { name: string }, scope: string, file: string) => {
    const fqn = scope ? `${scope}.${m.name}` : m.name;
    owner.set(fqn, file);
    for (const n of (m as MessageDescriptor).nestedType ?? []) index(n, fqn, file);
    for (const e of (m as MessageDescriptor).enumType ?? []) index(e, fqn, file);
  };
  for (const file of decoded.values()) {
    for (const m of file.messageType ?? []) index(m, file.package ?? '', file.name);
    for (const e of file.enumType ?? []) index(e, file.package ?? '', file.name);
  }
  const fixed = new Map<Buffer, Buffer>();
  for (const [bin, file] of decoded) {
    const pkg = file.package ?? '';
    const deps = new Set(file.dependency ?? []);
    const need = (typeName: string | undefined, scope: string) => {
      const target = typeName ? resolveType(typeName, scope, owner) : undefined;
      if (target && target !== file.name) deps.add(target);
    };
    const visit = (m: MessageDescriptor, scope: string) => {
      const fqn = scope ? `${scope}.${m.name}` : m.name;
      fixMapEntries(m, fqn);
      for (const f of m.field ?? []) need(f.typeName, fqn);
      for (const n of m.nestedType ?? []) visit(n, fqn);
    };
    for (const m of file.messageType ?? []) visit(m, pkg);
    for (const svc of file.service ?? []) {
      for (const method of svc.method ?? []) {
        need(method.inputType, pkg);
        need(method.outputType, pkg);
      }
    }
    file.dependency = [...deps];
    fixed.set(bin, Buffer.from(FileDescriptorProto.encode(file as never).finish()));
  }
  for (const value of Object.values(definition)) {
    const v = value as { fileDescriptorProtos?: Buffer[] };
    if (Array.isArray(v.fileDescriptorProtos)) v.fileDescriptorProtos = v.fileDescriptorProtos.map((b) => fixed.get(b) ?? b);
  }
  return definition;
}

interface MessageDescriptor {
  name: string;
  field?: { name: string; typeName?: string }[];
  nestedType?: MessageDescriptor[];
  enumType?: { name: string }[];
  options?: { mapEntry?: boolean };
}
interface FileDescriptor {
  name: string;
  package?: string;
  dependency?: string[];
  messageType?: MessageDescriptor[];
  enumType?: { name: string }[];
  service?: { method?: { inputType?: string; outputType?: string }[] }[];
}

/** The file defining a type reference, with protobuf's scoping rules for relative names. */
function resolveType(typeName: string, scope: string, owner: Map<string, string>): string | undefined {
  if (typeName.startsWith('.')) return owner.get(typeName.slice(1));
  for (let s = scope; ; s = s.includes('.') ? s.slice(0, s.lastIndexOf('.')) : '') {
    const hit = owner.get(s ? `${s}.${typeName}` : typeName);
    if (hit || s === '') return hit;
  }
}

function fixMapEntries(message: MessageDescriptor, fqn: string): void {
  for (const nested of message.nestedType ?? []) {
    if (!nested.options?.mapEntry || nested.name.endsWith('Entry')) continue;
    const field = (message.field ?? []).find((f) => f.typeName === `.${fqn}.${nested.name}` || f.typeName === nested.name);
    const newName = `${(field?.name ?? nested.name).replace(/(^|_)([a-z])/g, (_m, _u, c: string) => c.toUpperCase())}Entry`;
    for (const f of message.field ?? []) {
      if (f.typeName === `.${fqn}.${nested.name}`) f.typeName = `.${fqn}.${newName}`;
      else if (f.typeName === nested.name) f.typeName = newName;
    }
    nested.name = newName;
  }
}
