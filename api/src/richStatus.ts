import { BinaryReader, BinaryWriter } from '@bufbuild/protobuf/wire';

/**
 * google.rpc.Status and the two details sourced sends (BadRequest, ErrorInfo), encoded by
 * hand: grpc-js has no API for rich errors, so the serialized Status travels in the
 * `grpc-status-details-bin` trailer, where every gRPC client library's rich-error helper
 * (Go `status.FromError(...).Details()`, Python `grpc_status.rpc_status.from_call`) finds it.
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

/** Serializes a google.rpc.Status with its details. */
export function encodeRichStatus(status: RichStatus): Uint8Array {
  const w = new BinaryWriter();
  w.uint32((1 << 3) | 0).int32(status.code);
  w.uint32((2 << 3) | 2).string(status.message);
  if (status.errorInfo) writeAny(w, ERROR_INFO_TYPE, encodeErrorInfo(status.errorInfo));
  if (status.badRequest) writeAny(w, BAD_REQUEST_TYPE, encodeBadRequest(status.badRequest));
  if (status.retryDelayMs !== undefined) writeAny(w, RETRY_INFO_TYPE, encodeRetryInfo(status.retryDelayMs));
  return w.finish();
}

/** google.rpc.RetryInfo { google.protobuf.Duration retry_delay = 1 } (Duration: int64 seconds = 1, int32 nanos = 2). */
function encodeRetryInfo(ms: number): Uint8Array {
  const w = new BinaryWriter();
  w.uint32((1 << 3) | 2).fork();
  w.uint32((1 << 3) | 0).int64(Math.floor(ms / 1000));
  w.uint32((2 << 3) | 0).int32((ms % 1000) * 1_000_000);
  w.join();
  return w.finish();
}

function decodeRetryInfo(bytes: Uint8Array): number {
  const r = new BinaryReader(bytes);
  let ms = 0;
  while (r.pos < r.len) {
    const [field, wire] = r.tag();
    if (field !== 1) {
      r.skip(wire);
      continue;
    }
    const d = new BinaryReader(r.bytes());
    while (d.pos < d.len) {
      const [f, wt] = d.tag();
      if (f === 1) ms += Number(d.int64()) * 1000;
      else if (f === 2) ms += d.int32() / 1_000_000;
      else d.skip(wt);
    }
  }
  return ms;
}

function writeAny(w: BinaryWriter, typeUrl: string, value: Uint8Array): void {
  w.uint32((3 << 3) | 2).fork();
  w.uint32((1 << 3) | 2).string(typeUrl);
  w.uint32((2 << 3) | 2).bytes(value);
  w.join();
}

function encodeBadRequest(violations: FieldViolationDetail[]): Uint8Array {
  const w = new BinaryWriter();
  for (const v of violations) {
    w.uint32((1 << 3) | 2).fork();
    w.uint32((1 << 3) | 2).string(v.field);
    w.uint32((2 << 3) | 2).string(v.description);
    w.join();
  }
  return w.finish();
}

function encodeErrorInfo(info: ErrorInfoDetail): Uint8Array {
  const w = new BinaryWriter();
  w.uint32((1 << 3) | 2).string(info.reason);
  w.uint32((2 << 3) | 2).string(info.domain);
  for (const [k, v] of Object.entries(info.metadata)) {
    w.uint32((3 << 3) | 2).fork();
    w.uint32((1 << 3) | 2).string(k);
    w.uint32((2 << 3) | 2).string(v);
    w.join();
  }
  return w.finish();
}

/** Parses a serialized google.rpc.Status (the clients in this repo and the tests use it). */
export function decodeRichStatus(bytes: Uint8Array): RichStatus {
  const r = new BinaryReader(bytes);
  const status: RichStatus = { code: 0, message: '' };
  while (r.pos < r.len) {
    const [field, wire] = r.tag();
    if (field === 1) status.code = r.int32();
    else if (field === 2) status.message = r.string();
    else if (field === 3) {
      const any = new BinaryReader(r.bytes());
      let typeUrl = '';
      let value: Uint8Array = new Uint8Array();
      while (any.pos < any.len) {
        const [f, wt] = any.tag();
        if (f === 1) typeUrl = any.string();
        else if (f === 2) value = any.bytes();
        else any.skip(wt);
      }
      if (typeUrl === BAD_REQUEST_TYPE) status.badRequest = decodeBadRequest(value);
      else if (typeUrl === ERROR_INFO_TYPE) status.errorInfo = decodeErrorInfo(value);
      else if (typeUrl === RETRY_INFO_TYPE) status.retryDelayMs = decodeRetryInfo(value);
    } else r.skip(wire);
  }
  return status;
}

function decodeBadRequest(bytes: Uint8Array): FieldViolationDetail[] {
  const r = new BinaryReader(bytes);
  const out: FieldViolationDetail[] = [];
  while (r.pos < r.len) {
    const [field, wire] = r.tag();
    if (field !== 1) {
      r.skip(wire);
      continue;
    }
    const v = new BinaryReader(r.bytes());
    const fv: FieldViolationDetail = { field: '', description: '' };
    while (v.pos < v.len) {
      const [f, wt] = v.tag();
      if (f === 1) fv.field = v.string();
      else if (f === 2) fv.description = v.string();
      else v.skip(wt);
    }
    out.push(fv);
  }
  return out;
}

function decodeErrorInfo(bytes: Uint8Array): ErrorInfoDetail {
  const r = new BinaryReader(bytes);
  const info: ErrorInfoDetail = { reason: '', domain: '', metadata: {} };
  while (r.pos < r.len) {
    const [field, wire] = r.tag();
    if (field === 1) info.reason = r.string();
    else if (field === 2) info.domain = r.string();
    else if (field === 3) {
      const e = new BinaryReader(r.bytes());
      let k = '';
      let v = '';
      while (e.pos < e.len) {
        const [f, wt] = e.tag();
        if (f === 1) k = e.string();
        else if (f === 2) v = e.string();
        else e.skip(wt);
      }
      info.metadata[k] = v;
    } else r.skip(wire);
  }
  return info;
}
