import { Any } from './gen/google/protobuf/any';
import { BadRequest, ErrorInfo, RetryInfo } from './gen/google/rpc/error_details';
import { Status } from './gen/google/rpc/status';

/**
 * google.rpc.Status and the three details sourced sends (ErrorInfo, BadRequest, RetryInfo),
 * through the codecs generated from api/proto/google/rpc: grpc-js has no API for rich errors, so
 * the serialized Status travels in the `grpc-status-details-bin` trailer, where every gRPC
 * client library's rich-error helper (Go `status.FromError(...).Details()`, Python
 * `grpc_status.rpc_status.from_call`) finds it.
 */

export const BAD_REQUEST_TYPE = 'type.googleapis.com/google.rpc.BadRequest';
export const ERROR_INFO_TYPE = 'type.googleapis.com/google.rpc.ErrorInfo';
export const RETRY_INFO_TYPE = 'type.googleapis.com/google.rpc.RetryInfo';

/** One google.rpc.BadRequest field violation. */
export interface FieldViolationDetail {
  /** The request path of the field, for example `data_source.primary.host`. */
  field: string;
  /** What is wrong with it, for people. */
  description: string;
}

/** google.rpc.ErrorInfo. */
export interface ErrorInfoDetail {
  /** Stable UPPER_SNAKE_CASE reason, for example `TARGET_DENIED`. */
  reason: string;
  /** Who defines the reason (sourced's own errors carry the daemon's domain). */
  domain: string;
  /** Facts about the error (the field, host, rule); never a secret. */
  metadata: Record<string, string>;
}

/** A google.rpc.Status as sourced sends it in `grpc-status-details-bin`, decoded. */
export interface RichStatus {
  /** The gRPC status code (3 INVALID_ARGUMENT, 7 PERMISSION_DENIED, ...). */
  code: number;
  /** The status message, for people. */
  message: string;
  /** google.rpc.BadRequest: each request field that was wrong, and why. */
  badRequest?: FieldViolationDetail[];
  /** google.rpc.ErrorInfo: the stable reason (`TARGET_DENIED`), domain and metadata. */
  errorInfo?: ErrorInfoDetail;
  /** google.rpc.RetryInfo: when to try again, milliseconds. */
  retryDelayMs?: number;
}

/** Serializes a google.rpc.Status with its details (ErrorInfo, BadRequest, RetryInfo, in that order). */
export function encodeRichStatus(status: RichStatus): Uint8Array {
  const details: Any[] = [];
  const any = (typeUrl: string, value: Uint8Array) => details.push({ typeUrl, value: Buffer.from(value) });
  if (status.errorInfo) any(ERROR_INFO_TYPE, ErrorInfo.encode(status.errorInfo).finish());
  if (status.badRequest) any(BAD_REQUEST_TYPE, BadRequest.encode({ fieldViolations: status.badRequest }).finish());
  if (status.retryDelayMs !== undefined) {
    const ms = status.retryDelayMs;
    any(RETRY_INFO_TYPE, RetryInfo.encode({ retryDelay: { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1_000_000 } }).finish());
  }
  return Status.encode({ code: status.code, message: status.message, details }).finish();
}

/** Parses a serialized google.rpc.Status (the clients in this repo and the tests use it); details of other types are skipped. */
export function decodeRichStatus(bytes: Uint8Array): RichStatus {
  const decoded = Status.decode(bytes);
  const status: RichStatus = { code: decoded.code, message: decoded.message };
  for (const { typeUrl, value } of decoded.details) {
    if (typeUrl === BAD_REQUEST_TYPE) status.badRequest = BadRequest.decode(value).fieldViolations.map(({ field, description }) => ({ field, description }));
    else if (typeUrl === ERROR_INFO_TYPE) status.errorInfo = ErrorInfo.decode(value);
    else if (typeUrl === RETRY_INFO_TYPE) {
      const delay = RetryInfo.decode(value).retryDelay;
      status.retryDelayMs = delay ? delay.seconds * 1000 + delay.nanos / 1_000_000 : 0;
    }
  }
  return status;
}
