import type { ServiceDefinition } from '@grpc/grpc-js';

/** Marks a request whose bytes did not decode. */
const MALFORMED = Symbol('malformed request');

export interface MalformedRequest {
  [MALFORMED]: string;
}

/**
 * The service definition with every request decoder made safe: bytes that are not a valid
 * message become a marker instead of an exception. grpc-js answers a decoder's exception
 * with INTERNAL ("Error deserializing request"), which tells the caller nothing and calls
 * the caller's mistake ours; the call handlers turn the marker into INVALID_ARGUMENT saying
 * what was wrong.
 */
export function withSafeDecoding<S extends ServiceDefinition>(service: S): S {
  const out: Record<string, unknown> = {};
  for (const [name, method] of Object.entries(service)) {
    const decode = method.requestDeserialize;
    out[name] = {
      ...method,
      requestDeserialize: (bytes: Buffer) => {
        try {
          return decode(bytes) as unknown;
        } catch (error) {
          return { [MALFORMED]: error instanceof Error ? error.message : String(error) } satisfies MalformedRequest;
        }
      },
    };
  }
  return out as S;
}

/** Why a request did not decode, or undefined for a decoded request. */
export function malformedReason(request: unknown): string | undefined {
  return typeof request === 'object' && request !== null && MALFORMED in request ? (request as MalformedRequest)[MALFORMED] : undefined;
}
