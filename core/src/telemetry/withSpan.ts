import { SpanStatusCode, type Attributes, type Span, type Tracer } from '@opentelemetry/api';
import { describeError } from '../errors';

/**
 * Runs `fn` inside an active child span: the span gets `attributes`, ends on every exit
 * path, and records a failure as ERROR status with the error's message (which, for
 * sourced's own errors, never holds a secret).
 */
export function withSpan<T>(tracer: Tracer, name: string, attributes: Attributes, fn: (span: Span) => Promise<T>): Promise<T> {
  return tracer.startActiveSpan(name, { attributes }, async (span) => {
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
