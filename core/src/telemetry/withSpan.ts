import { SpanStatusCode, type Attributes, type Span, type TimeInput, type Tracer } from '@opentelemetry/api';
import { describeError } from '../errors';

/**
 * Runs `fn` inside an active child span: the span gets `attributes`, ends on every exit
 * path, and records a failure as ERROR status with the error's message (which, for
 * sourced's own errors, never holds a secret). `startTime`: when the work began, if before
 * this call (a read started ahead of its span).
 */
export function withSpan<T>(tracer: Tracer, name: string, attributes: Attributes, fn: (span: Span) => Promise<T>, startTime?: TimeInput): Promise<T> {
  return tracer.startActiveSpan(name, startTime === undefined ? { attributes } : { attributes, startTime }, async (span) => {
    try {
      return await fn(span);
    } catch (error) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: describeError(error) });
      throw error;
    } finally {
      span.end();
    }
  });
}
