import { Metadata, status as Status, type ServiceError } from '@grpc/grpc-js';
import {
  AbortedError,
  InputError,
  NotAllowedError,
  NotFoundError,
  SourcedError,
  UnavailableError,
  UnauthenticatedError,
  ResourceExhaustedError,
} from '@sourced/core';
import { encodeRichStatus, type RichStatus } from '@sourced/api';

/** The ErrorInfo domain of every sourced error. */
export const ERROR_DOMAIN = 'sourced.dev';

/**
 * Maps an error to a gRPC status with google.rpc details. The one place where semantic
 * errors meet the transport. Errors that are not SourcedErrors are internal: their text
 * is not sent (it may be driver text), only a generic message and the trace id to find it.
 */
export function toServiceError(error: unknown, traceId?: string): ServiceError {
  const rich = toRichStatus(error, traceId);
  const metadata = new Metadata();
  metadata.set('grpc-status-details-bin', Buffer.from(encodeRichStatus(rich)));
  return Object.assign(new Error(rich.message), { code: rich.code, details: rich.message, metadata });
}

/** The rich status of an error; its code is one of grpc-js's statuses. */
export function toRichStatus(error: unknown, traceId?: string): RichStatus & { code: Status } {
  if (error instanceof SourcedError) {
    const info = { reason: error.reason, domain: ERROR_DOMAIN, metadata: { ...error.metadata } };
    if (traceId) info.metadata.trace_id = traceId;
    if (error instanceof InputError) {
      return { code: Status.INVALID_ARGUMENT, message: error.message, badRequest: error.violations, errorInfo: info };
    }
    if (error instanceof ResourceExhaustedError) {
      return { code: Status.RESOURCE_EXHAUSTED, message: error.message, errorInfo: info, retryDelayMs: error.retryAfterMs };
    }
    return { code: codeOf(error), message: error.message, errorInfo: info };
  }
  return {
    code: Status.INTERNAL,
    message: `internal error${traceId ? ` (trace ${traceId})` : ''}; the daemon log has the details`,
    errorInfo: { reason: 'INTERNAL', domain: ERROR_DOMAIN, metadata: traceId ? { trace_id: traceId } : {} },
  };
}

function codeOf(error: SourcedError): Status {
  if (error instanceof NotFoundError) return Status.NOT_FOUND;
  if (error instanceof NotAllowedError) return Status.PERMISSION_DENIED;
  if (error instanceof UnauthenticatedError) return Status.UNAUTHENTICATED;
  if (error instanceof UnavailableError) return Status.UNAVAILABLE;
  if (error instanceof AbortedError) return error.reason === 'DEADLINE_EXCEEDED' ? Status.DEADLINE_EXCEEDED : Status.CANCELLED;
  return Status.FAILED_PRECONDITION;
}
