import {
  type Attributes,
  type Context,
  context,
  propagation,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
  TraceFlags,
} from "@opentelemetry/api";
import {
  type Bus,
  BusError,
  type BusMessage,
  type BusSubscription,
  getTraceContext,
  TRACEPARENT_HEADER,
  TRACESTATE_HEADER,
} from "@paxos/wire";

const tracer = trace.getTracer("@paxos/telemetry");

/** What a TracingBus says about the messaging system it wraps. */
export interface TracingBusOptions {
  /** `messaging.system`: "nats". */
  readonly system: string;
  /**
   * The low-cardinality form of a published subject (Subjects.template): spans are named
   * `publish <template>`, since subjects carry proposer ids that change at every start.
   */
  readonly template: (subject: string) => string;
}

/**
 * A Bus that records the messaging spans of the OpenTelemetry semantic conventions around
 * another: a PRODUCER span for each traced publish and request, a CONSUMER span for each traced
 * message delivered, and the W3C trace context carried in message headers.
 *
 * Only messages of a sampled trace are traced: a publish whose headers (or, lacking them, the
 * active context) carry a sampled span, a delivery whose headers carry a traceparent. The context
 * of a trace that was not sampled is not sent on (every process samples by its parent, so no
 * receiver would record it): at 1 % sampling, 99 % of the messages carry no headers at all and
 * cost what they cost with tracing off. Heartbeats and other traffic that no request caused stay
 * out of every trace.
 *
 * The consumer's handler sees the CONSUMER span both as the active context and as the
 * traceparent of the message's headers, so a role that queues the message and works on it later
 * still continues the trace from the right span.
 */
export class TracingBus<B extends Bus> implements Bus {
  /** The wrapped bus, for what the Bus interface does not cover (connection state). */
  readonly inner: B;
  readonly #system: string;
  readonly #template: (subject: string) => string;

  constructor(inner: B, options: TracingBusOptions) {
    this.inner = inner;
    this.#system = options.system;
    this.#template = options.template;
  }

  publish(subject: string, data: Uint8Array, headers?: Record<string, string>): void {
    const parent = parentOf(headers);
    if (parent === null) return this.inner.publish(subject, data, withoutTrace(headers));
    const span = this.#producer("publish", subject, data, parent);
    try {
      this.inner.publish(subject, data, inject(trace.setSpan(parent, span), headers));
    } catch (error) {
      fail(span, error);
      throw error;
    } finally {
      span.end();
    }
  }

  subscribe(subject: string, handler: (m: BusMessage) => void, opts?: { queue?: string }): BusSubscription {
    return this.inner.subscribe(
      subject,
      (m) => {
        if (getTraceContext(m.headers) === null) return handler(m);
        const parent = propagation.extract(ROOT_CONTEXT, m.headers);
        const template = this.#template(m.subject);
        const span = tracer.startSpan(
          `process ${template}`,
          {
            kind: SpanKind.CONSUMER,
            attributes: {
              ...this.#attributes("process", "process", m.subject, m.data),
              "messaging.destination.template": template,
              "messaging.destination.subscription.name": subject,
            },
          },
          parent,
        );
        const active = trace.setSpan(parent, span);
        try {
          context.with(active, () => handler({ ...m, headers: inject(active, m.headers) }));
        } catch (error) {
          fail(span, error);
          throw error;
        } finally {
          span.end();
        }
      },
      opts,
    );
  }

  async request(
    subject: string,
    data: Uint8Array,
    opts: { timeoutMs: number; headers?: Record<string, string> },
  ): Promise<BusMessage> {
    const parent = parentOf(opts.headers);
    if (parent === null) return this.inner.request(subject, data, untraced(opts));
    const span = this.#producer("request", subject, data, parent);
    try {
      return await this.inner.request(subject, data, {
        ...opts,
        headers: inject(trace.setSpan(parent, span), opts.headers),
      });
    } catch (error) {
      fail(span, error);
      throw error;
    } finally {
      span.end();
    }
  }

  async requestMany(
    subject: string,
    data: Uint8Array,
    opts: { maxWaitMs: number; maxReplies?: number; headers?: Record<string, string> },
  ): Promise<BusMessage[]> {
    const parent = parentOf(opts.headers);
    if (parent === null) return this.inner.requestMany(subject, data, untraced(opts));
    const span = this.#producer("request", subject, data, parent);
    try {
      const replies = await this.inner.requestMany(subject, data, {
        ...opts,
        headers: inject(trace.setSpan(parent, span), opts.headers),
      });
      span.setAttribute("messaging.batch.message_count", replies.length);
      return replies;
    } catch (error) {
      fail(span, error);
      throw error;
    } finally {
      span.end();
    }
  }

  flush(): Promise<void> {
    return this.inner.flush();
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  #producer(operation: "publish" | "request", subject: string, data: Uint8Array, parent: Context): Span {
    const template = this.#template(subject);
    return tracer.startSpan(
      `${operation} ${template}`,
      {
        kind: SpanKind.PRODUCER,
        attributes: {
          ...this.#attributes(operation, "send", subject, data),
          "messaging.destination.template": template,
        },
      },
      parent,
    );
  }

  #attributes(name: string, type: string, subject: string, data: Uint8Array): Attributes {
    return {
      "messaging.system": this.#system,
      "messaging.operation.name": name,
      "messaging.operation.type": type,
      "messaging.destination.name": subject,
      "messaging.message.body.size": data.byteLength,
    };
  }
}

/**
 * The context a publish continues: the trace its headers carry when it has headers (a role that
 * passes them says which trace its message belongs to, possibly none), else the active context
 * (a request made while handling an HTTP request); null when that is no sampled span.
 */
function parentOf(headers: Readonly<Record<string, string>> | undefined): Context | null {
  const parent = headers !== undefined ? propagation.extract(ROOT_CONTEXT, headers) : context.active();
  const spanContext = trace.getSpanContext(parent);
  return spanContext !== undefined && (spanContext.traceFlags & TraceFlags.SAMPLED) !== 0 ? parent : null;
}

/** `headers` without trace context; undefined when nothing else is left (a message with no headers). */
function withoutTrace(headers: Readonly<Record<string, string>> | undefined): Record<string, string> | undefined {
  if (headers === undefined) return undefined;
  const rest: Record<string, string> = { ...headers };
  delete rest[TRACEPARENT_HEADER];
  delete rest[TRACESTATE_HEADER];
  return Object.keys(rest).length === 0 ? undefined : rest;
}

/** Request options with their headers `withoutTrace`. */
function untraced<T extends { readonly headers?: Record<string, string> }>(opts: T): T {
  const { headers, ...rest } = opts;
  const kept = withoutTrace(headers);
  return (kept === undefined ? rest : { ...rest, headers: kept }) as T;
}

/** `headers` with the trace context of `ctx` in place of whatever trace context they carried. */
function inject(ctx: Context, headers: Readonly<Record<string, string>> | undefined): Record<string, string> {
  const out: Record<string, string> = { ...headers };
  delete out[TRACEPARENT_HEADER];
  delete out[TRACESTATE_HEADER];
  propagation.inject(ctx, out);
  return out;
}

function fail(span: Span, error: unknown): void {
  const code = error instanceof BusError ? error.code : "error";
  span.setAttribute("error.type", code);
  span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
}
