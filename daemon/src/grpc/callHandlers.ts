import type { handleServerStreamingCall, handleUnaryCall, Metadata, ServerUnaryCall, ServerWritableStream } from '@grpc/grpc-js';
import { status as Status } from '@grpc/grpc-js';
import { context, propagation, SpanKind, SpanStatusCode, trace, type Span, type Tracer } from '@opentelemetry/api';
import { AbortedError, describeError, InputError, SourcedError, UnauthenticatedError, type KeyUseRecord, type Logger } from '@sourced/core';
import type { AuditLog } from '../audit/AuditLog';
import type { FailureAggregator } from '../audit/FailureAggregator';
import type { AuthFailureLimiter } from '../security/authFailureLimiter';
import { principalName, type Authenticator, type Principal } from '../security/authenticate';
import type { Authorizer } from '../security/authorize';
import { effectiveDeadlineMs, peerAddress, type CallLimiter } from '../security/limits';
import type { DaemonConfig } from '../config/DaemonConfig';
import type { RpcMetrics } from '../telemetry/metrics';
import { malformedReason } from './safeDecoding';
import { toServiceError } from './toServiceError';

/** What a handler receives with each call. */
export interface CallContext {
  /** Fires when the client cancels, the deadline passes, or the daemon stops. */
  signal: AbortSignal;
  logger: Logger;
  span: Span;
  /** Who is calling (`anonymous` when authentication is off). */
  principal: Principal;
  /** The full method name, `package.Service/Method`. */
  rpc: string;
  /** Names the call's data source for the audit line (id, type, host; never credentials). */
  noteDataSource(source: { id?: string; type?: string; host?: string }): void;
  /** Records a use of an encryption key for the audit line (provider, key id, outcome; never a value). */
  noteKeyUse(use: KeyUseRecord): void;
}

/** Tracks in-flight calls so shutdown can wait for them, then cancel what is left. */
export class CallTracker {
  private readonly calls = new Set<AbortController>();
  private idleWaiters: (() => void)[] = [];

  get size(): number {
    return this.calls.size;
  }

  add(controller: AbortController): void {
    this.calls.add(controller);
  }

  remove(controller: AbortController): void {
    this.calls.delete(controller);
    if (this.calls.size === 0) this.idleWaiters.splice(0).forEach((w) => w());
  }

  /** Resolves when no call is in flight. */
  idle(): Promise<void> {
    return this.calls.size === 0 ? Promise.resolve() : new Promise((r) => this.idleWaiters.push(r));
  }

  /** Cancels every in-flight call. */
  abortAll(reason: string): void {
    for (const c of this.calls) c.abort(new AbortedError(reason));
  }
}

export interface HandlerDeps {
  tracer: Tracer;
  logger: Logger;
  calls: CallTracker;
  authenticator: Authenticator;
  authorizer: Authorizer;
  /** Where each call is recorded when the audit log is on. */
  audit?: AuditLog;
  /** Where calls refused before the caller was known are recorded (aggregated per peer), when the audit log is on. */
  failureLog?: FailureAggregator;
  /** Failed authentications per peer; a peer past its budget is refused before authentication. */
  authFailures?: AuthFailureLimiter;
  limiter: CallLimiter;
  limits: DaemonConfig['limits'];
  /** `rpc.server.duration` and `rpc.server.requests`, recorded as each call ends (every exit path). */
  metrics?: RpcMetrics;
}

/** Metadata as an OpenTelemetry carrier, so the caller's `traceparent` is continued. */
const metadataGetter = {
  get: (carrier: Metadata, key: string) => {
    const values = carrier.get(key);
    return values.length ? values.map(String) : undefined;
  },
  keys: (carrier: Metadata) => Object.keys(carrier.getMap()),
};

interface CallScope {
  span: Span;
  controller: AbortController;
  logger: Logger;
  /** Authenticates the call (the principal then appears in the span and the log lines) and checks that a role grants the RPC. */
  authenticate(): Promise<Principal>;
  /** Handed to the handler's context as they are: they do not use `this`. */
  noteDataSource: (source: { id?: string; type?: string; host?: string }) => void;
  noteKeyUse: (use: KeyUseRecord) => void;
  done(code: Status, error?: unknown): void;
}

function openCall(deps: HandlerDeps, fullMethod: string, call: ServerUnaryCall<unknown, unknown> | ServerWritableStream<unknown, unknown>): CallScope {
  const [service, method] = fullMethod.split('/');
  const parent = propagation.extract(context.active(), call.metadata, metadataGetter);
  const span = deps.tracer.startSpan(
    fullMethod,
    {
      kind: SpanKind.SERVER,
      attributes: { 'rpc.system': 'grpc', 'rpc.service': service, 'rpc.method': method, 'network.peer.address': call.getPeer() },
    },
    parent,
  );
  const controller = new AbortController();
  deps.calls.add(controller);
  call.on('cancelled', () => controller.abort(new AbortedError('the client cancelled the call')));
  const deadline = call.getDeadline();
  const requested = deadline instanceof Date ? deadline.getTime() - Date.now() : deadline - Date.now();
  // A call without a deadline gets the default one; none runs past the maximum.
  const ms = effectiveDeadlineMs(requested, deps.limits);
  let timer: NodeJS.Timeout | undefined;
  let release: (() => void) | undefined;
  if (Number.isFinite(ms)) {
    timer = setTimeout(() => controller.abort(new AbortedError('the deadline passed', { deadline: true })), Math.max(0, ms));
  }
  const traceId = span.spanContext().traceId;
  let logger = deps.logger.child({ rpc: fullMethod, trace_id: traceId });
  const started = performance.now();
  const startedAt = new Date();
  let principalId = 'anonymous';
  // Whether authentication established the caller; a call refused before that is recorded by peer, aggregated.
  let known = false;
  const peer = peerAddress(call.getPeer());
  let dataSource: { id?: string; type?: string; host?: string } | undefined;
  const keyUses: KeyUseRecord[] = [];
  return {
    span,
    controller,
    get logger() {
      return logger;
    },
    async authenticate() {
      // A peer that keeps failing is refused before its credentials cost anything to check.
      deps.authFailures?.check(peer);
      let principal: Principal;
      try {
        principal = await deps.authenticator.authenticate(call);
      } catch (error) {
        if (error instanceof UnauthenticatedError) deps.authFailures?.failed(peer);
        throw error;
      }
      known = true;
      const name = principalName(principal);
      span.setAttributes({ 'enduser.id': name, 'sourced.auth.method': principal.method });
      logger = logger.child({ principal: name });
      principalId = name;
      deps.authorizer.checkRpc(principal, fullMethod);
      // With authentication off every caller is `anonymous`: one budget per peer address, so that
      // one client's calls cannot use up everyone's. Otherwise one budget per principal.
      if (principal.method === 'none') {
        release = deps.limiter.enter(`anonymous@${peer}`);
      } else {
        release = deps.limiter.enter(`${principal.method}:${principal.id}`, name);
      }
      return principal;
    },
    noteDataSource(source) {
      dataSource = source;
    },
    noteKeyUse(use) {
      // Bounded: a call opens a handful of envelopes; the audit line keeps at most 16 uses.
      if (keyUses.length < 16) keyUses.push({ ...use });
    },
    done(code, error) {
      if (timer) clearTimeout(timer);
      release?.();
      deps.calls.remove(controller);
      span.setAttribute('rpc.grpc.status_code', code);
      if (code !== Status.OK) {
        span.setStatus({ code: SpanStatusCode.ERROR, message: describeError(error) });
        if (error instanceof SourcedError) span.setAttribute('sourced.error.reason', error.reason);
      }
      span.end();
      const durationMs = performance.now() - started;
      deps.metrics?.record(fullMethod, code, durationMs);
      const entry = {
        time: startedAt,
        principal: principalId,
        rpc: fullMethod,
        dataSource,
        ...(keyUses.length ? { keys: keyUses } : {}),
        code,
        durationMs,
        traceId,
      };
      if (!known && deps.failureLog) deps.failureLog.record({ ...entry, peer });
      else deps.audit?.record(entry);
      const fields = { code: Status[code], duration_ms: Math.round(durationMs) };
      // A rate-limited peer's refusals would be a line each: the audit log aggregates them, the log keeps them at debug.
      if (error instanceof SourcedError && error.reason === 'TOO_MANY_AUTH_FAILURES') logger.debug('call refused', { ...fields, reason: error.reason, peer });
      else if (code === Status.INTERNAL)
        logger.error('call failed', { ...fields, error: describeError(error), stack: (error as Partial<Error> | undefined)?.stack });
      else
        logger.info(
          'call finished',
          error ? { ...fields, reason: error instanceof SourcedError ? error.reason : undefined, error: describeError(error) } : fields,
        );
    },
  };
}

/**
 * Adapts an async generator to a grpc-js server-streaming handler: the call becomes an
 * AbortSignal (client cancel, deadline, shutdown), the request is parsed once at the edge
 * (after authentication and the malformed-bytes check, before the handler: `parse` turns the
 * contract's message into the checked request the handler takes, or throws an InputError),
 * each yielded event gets the next sequence number, each write waits until HTTP/2 has sent the
 * message (back-pressure: the generator is not pulled while the client is slow, so what waits
 * is bounded by the stream's flow-control window, not by the writable's 16-message buffer), and
 * errors become statuses with google.rpc details.
 * Returning from the loop runs the generator's `finally`, which releases connections.
 */
export function serverStreaming<Req, Parsed, Res extends { sequence: number }>(
  deps: HandlerDeps,
  fullMethod: string,
  parse: (request: Req) => Parsed,
  handler: (request: Parsed, ctx: CallContext) => AsyncIterable<Omit<Res, 'sequence'>>,
): handleServerStreamingCall<Req, Res> {
  return (call) => {
    const scope = openCall(deps, fullMethod, call);
    const run = async () => {
      const signal = scope.controller.signal;
      let sequence = 0;
      let iterator: AsyncIterator<Omit<Res, 'sequence'>> | undefined;
      try {
        const principal = await scope.authenticate();
        const request = parse(wellFormed(call.request, fullMethod));
        iterator = handler(request, {
          signal,
          logger: scope.logger,
          span: scope.span,
          principal,
          rpc: fullMethod,
          noteDataSource: scope.noteDataSource,
          noteKeyUse: scope.noteKeyUse,
        })[Symbol.asyncIterator]();
        for (;;) {
          const next = await iterator.next();
          if (next.done) break;
          sequence += 1;
          if (signal.aborted) throw signal.reason;
          await written(call, { ...next.value, sequence } as Res, signal);
        }
        scope.span.setAttribute('sourced.events', sequence);
        call.end();
        scope.done(Status.OK);
      } catch (error) {
        await iterator?.return?.(undefined).catch(() => undefined);
        const serviceError = toServiceError(error, scope.span.spanContext().traceId);
        scope.span.setAttribute('sourced.events', sequence);
        if (!call.cancelled) call.emit('error', serviceError);
        scope.done(serviceError.code, error);
      }
    };
    void context.with(trace.setSpan(context.active(), scope.span), run);
  };
}

/** Adapts an async function to a grpc-js unary handler, with the same tracing, request parsing and error mapping. */
export function unary<Req, Parsed, Res>(
  deps: HandlerDeps,
  fullMethod: string,
  parse: (request: Req) => Parsed,
  handler: (request: Parsed, ctx: CallContext) => Promise<Res>,
): handleUnaryCall<Req, Res> {
  return (call, callback) => {
    const scope = openCall(deps, fullMethod, call);
    void context.with(trace.setSpan(context.active(), scope.span), async () => {
      try {
        const principal = await scope.authenticate();
        const request = parse(wellFormed(call.request, fullMethod));
        const response = await handler(request, {
          signal: scope.controller.signal,
          logger: scope.logger,
          span: scope.span,
          principal,
          rpc: fullMethod,
          noteDataSource: scope.noteDataSource,
          noteKeyUse: scope.noteKeyUse,
        });
        callback(null, response);
        scope.done(Status.OK);
      } catch (error) {
        const serviceError = toServiceError(error, scope.span.spanContext().traceId);
        callback(serviceError);
        scope.done(serviceError.code, error);
      }
    });
  };
}

/**
 * Writes one message and waits until the transport took it: grpc-js calls back when the
 * HTTP/2 stream has sent it, which a client that does not read holds up by its flow-control
 * window. Rejects when the call is cancelled or its deadline passes meanwhile.
 */
function written<Res>(call: ServerWritableStream<unknown, Res>, message: Res, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    // The call's signal is aborted only with an AbortedError (openCall, CallTracker).
    const onAbort = () => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    call.write(message, () => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    });
  });
}

/** The request, when its bytes decoded; one that did not is the caller's mistake: INVALID_ARGUMENT saying so. */
function wellFormed<Req>(request: Req, fullMethod: string): Req {
  const reason = malformedReason(request);
  if (reason === undefined) return request;
  throw new InputError([{ field: 'request', description: `is not a valid request message for ${fullMethod} (${reason})` }], { reason: 'MALFORMED_REQUEST' });
}
