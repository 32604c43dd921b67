/**
 * How the daemon starts OpenTelemetry (telemetry/sdk.ts): the process-wide NodeSDK when it owns
 * the process's environment, its own providers when embedded, and the settings refused rather
 * than ignored. The exports themselves are tested against stand-in collectors in
 * test/e2e/telemetry.test.ts and test/e2e/metrics.test.ts.
 */
import { trace } from '@opentelemetry/api';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG, startDaemon, type DaemonConfig, type RunningDaemon, type StartOptions } from '../src';

const config = (): DaemonConfig => ({ ...structuredClone(DEFAULT_CONFIG), listen: '127.0.0.1:0', logLevel: 'warn', plugins: [] });
const start = (options: Partial<StartOptions> = {}) => startDaemon({ config: config(), logSink: () => undefined, ...options });

describe('the daemon OpenTelemetry setup', () => {
  // The process-wide SDK reads process.env: none of the runner's OTEL_* variables during these tests.
  const saved: Record<string, string | undefined> = {};
  beforeAll(() => {
    for (const k of Object.keys(process.env).filter((k) => k.startsWith('OTEL_'))) {
      saved[k] = process.env[k];
      delete process.env[k];
    }
  });
  afterAll(() => Object.assign(process.env, saved));

  /**
   * Without an env, span processors or metric readers the daemon starts NodeSDK, which
   * registers the API's global tracer provider: a span of the global API is recorded (real trace
   * ids for logs and errors) although no exporter is named. A second such daemon in the same
   * process is refused with a reason; once the first stops, the globals are free again.
   */
  it('runs one process-wide NodeSDK at a time', async () => {
    let first: RunningDaemon | undefined = await start();
    let second: RunningDaemon | undefined;
    try {
      expect(first.container.cradle.telemetry.mode).toBe('sdk');
      expect(first.container.cradle.telemetry.traceExporters).toEqual(['none']);
      const span = trace.getTracer('test').startSpan('probe');
      expect(span.isRecording()).toBe(true);
      expect(span.spanContext().traceId).not.toBe('0'.repeat(32));
      span.end();
      await expect(start()).rejects.toThrow(/another daemon of this process already runs the process's OpenTelemetry SDK/);

      await first.stop();
      first = undefined;
      expect(trace.getTracer('test').startSpan('after').isRecording()).toBe(false);
      second = await start();
      expect(second.container.cradle.telemetry.mode).toBe('sdk');
    } finally {
      await first?.stop();
      await second?.stop();
    }
  });

  /** A host that registered its own SDK first keeps it: the daemon records into it and leaves it registered when it stops. */
  it('leaves a host SDK registered before it alone', async () => {
    const host = new InMemorySpanExporter();
    const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(host)] });
    expect(trace.setGlobalTracerProvider(provider)).toBe(true);
    try {
      const daemon = await start();
      daemon.container.cradle.tracer.startSpan('from the daemon').end();
      await daemon.stop();
      trace.getTracer('test').startSpan('after the daemon stopped').end();
      expect(host.getFinishedSpans().map((s) => s.name)).toEqual(['from the daemon', 'after the daemon stopped']);
    } finally {
      trace.disable();
      await provider.shutdown();
    }
  });

  /** Embedded daemons keep their own providers: each in-memory exporter sees only its own daemon's spans, and nothing is registered globally. */
  it('gives embedded daemons their own tracer providers', async () => {
    const [a, b] = [new InMemorySpanExporter(), new InMemorySpanExporter()];
    const first = await start({ spanProcessors: [new SimpleSpanProcessor(a)] });
    const second = await start({ spanProcessors: [new SimpleSpanProcessor(b)] });
    try {
      expect(first.container.cradle.telemetry.mode).toBe('local');
      first.container.cradle.tracer.startSpan('first').end();
      second.container.cradle.tracer.startSpan('second').end();
      expect(a.getFinishedSpans().map((s) => s.name)).toEqual(['first']);
      expect(b.getFinishedSpans().map((s) => s.name)).toEqual(['second']);
      expect(trace.getTracer('test').startSpan('global').isRecording()).toBe(false);
    } finally {
      await first.stop();
      await second.stop();
    }
  });

  /** An embedded daemon cannot honour OTLP or console exporters of its env (NodeSDK reads only process.env): the start fails, naming the variable. */
  it('refuses exporter variables an embedded daemon would ignore', async () => {
    await expect(start({ env: { OTEL_TRACES_EXPORTER: 'otlp' } })).rejects.toThrow(/^OTEL_TRACES_EXPORTER=otlp: an embedded daemon/);
    await expect(start({ env: { OTEL_METRICS_EXPORTER: 'console' } })).rejects.toThrow(/^OTEL_METRICS_EXPORTER=console: an embedded daemon/);
    // none, and OTEL_SDK_DISABLED, are fine
    const quiet = await start({ env: { OTEL_TRACES_EXPORTER: 'none', OTEL_METRICS_EXPORTER: 'none' } });
    await quiet.stop();
    const disabled = await start({ env: { OTEL_SDK_DISABLED: 'true', OTEL_TRACES_EXPORTER: 'otlp' } });
    expect(disabled.container.cradle.telemetry.traceExporters).toEqual(['none']);
    await disabled.stop();
  });

  /** A misspelt exporter would export nothing without a word: it stops the start, in either mode. */
  it('refuses unknown exporter names', async () => {
    await expect(start({ env: { OTEL_TRACES_EXPORTER: 'jaegr' } })).rejects.toThrow(
      'OTEL_TRACES_EXPORTER: unknown exporter "jaegr"; use otlp, console, zipkin, none',
    );
    process.env.OTEL_METRICS_EXPORTER = 'otlp,prometeus';
    try {
      await expect(start()).rejects.toThrow('OTEL_METRICS_EXPORTER: unknown exporter "prometeus"; use otlp, console, prometheus, none');
    } finally {
      delete process.env.OTEL_METRICS_EXPORTER;
    }
  });
});
