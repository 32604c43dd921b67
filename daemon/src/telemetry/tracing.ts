import { context, propagation, type Tracer } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter as OtlpGrpcExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { OTLPTraceExporter as OtlpHttpJsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as OtlpProtoExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, ConsoleSpanExporter, SimpleSpanProcessor, type SpanExporter, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from '@opentelemetry/semantic-conventions';

/** The daemon's tracer and how to flush it at shutdown. */
export interface Tracing {
  tracer: Tracer;
  /** Exporters chosen, for the start-up log line. */
  exporters: string[];
  shutdown(): Promise<void>;
}

export interface TracingOptions {
  serviceName: string;
  serviceVersion: string;
  env?: NodeJS.ProcessEnv;
  /** Extra processors, for example an in-memory exporter in tests. */
  spanProcessors?: SpanProcessor[];
}

let contextManagerInstalled = false;

/**
 * Builds the tracer provider from the standard OpenTelemetry variables:
 * `OTEL_TRACES_EXPORTER` (`none` by default, `otlp`, `console`, comma-separated),
 * `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL` / `OTEL_EXPORTER_OTLP_PROTOCOL` (`grpc`,
 * `http/protobuf` (default), `http/json`), the OTLP endpoint and header variables (read by
 * the exporters), and `OTEL_SERVICE_NAME`. Spans go through the W3C trace-context propagator.
 */
export function createTracing(options: TracingOptions): Tracing {
  const env = options.env ?? process.env;
  if (!contextManagerInstalled) {
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    contextManagerInstalled = true;
  }
  const processors: SpanProcessor[] = [...(options.spanProcessors ?? [])];
  const exporters: string[] = [];
  const names = (env.OTEL_TRACES_EXPORTER ?? 'none').split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);
  if (env.OTEL_SDK_DISABLED !== 'true') {
    for (const name of names) {
      if (name === 'none') continue;
      if (name === 'console') {
        processors.push(new SimpleSpanProcessor(new ConsoleSpanExporter()));
        exporters.push('console');
      } else if (name === 'otlp') {
        const protocol = (env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ?? env.OTEL_EXPORTER_OTLP_PROTOCOL ?? 'http/protobuf').toLowerCase();
        let exporter: SpanExporter;
        if (protocol === 'grpc') exporter = new OtlpGrpcExporter();
        else if (protocol === 'http/json') exporter = new OtlpHttpJsonExporter();
        else exporter = new OtlpProtoExporter();
        processors.push(new BatchSpanProcessor(exporter));
        exporters.push(`otlp/${protocol}`);
      } else {
        throw new Error(`OTEL_TRACES_EXPORTER: unknown exporter "${name}"; use otlp, console or none`);
      }
    }
  }
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({
      [ATTR_SERVICE_NAME]: env.OTEL_SERVICE_NAME ?? options.serviceName,
      [ATTR_SERVICE_VERSION]: options.serviceVersion,
    }),
    spanProcessors: processors,
  });
  return {
    tracer: provider.getTracer('sourced', options.serviceVersion),
    exporters: exporters.length ? exporters : ['none'],
    shutdown: () => provider.shutdown(),
  };
}
