import { diag, type DiagLogger, DiagLogLevel } from "@opentelemetry/api";
import {
  defaultResource,
  envDetector,
  hostDetector,
  osDetector,
  processDetector,
  resourceFromAttributes,
} from "@opentelemetry/resources";
import { NodeSDK } from "@opentelemetry/sdk-node";

/** What a process says about itself in every span it exports. */
export interface TracingOptions {
  /** The role ("acceptor", "gateway", ...): the default `service.name` is `paxos-<role>`. */
  readonly role: string;
  /** This process's id in the cluster (an acceptor id, a proposer id with its nonce, ...). */
  readonly instanceId: string;
  /** The cluster's name, as `service.namespace`. */
  readonly cluster: string;
  /** Where the SDK's own warnings and errors (a collector that cannot be reached) go. */
  readonly logger: { warn(fields: object, message: string): void; info(fields: object, message: string): void };
  readonly env?: NodeJS.ProcessEnv;
}

/** The running tracing of a process: `shutdown` exports what is buffered (call it on exit). */
export interface Tracing {
  readonly enabled: boolean;
  shutdown(): Promise<void>;
}

/**
 * Starts the OpenTelemetry Node SDK for one service process, configured by the standard OTEL_*
 * variables: OTLP (http/protobuf by default, OTEL_EXPORTER_OTLP_PROTOCOL to change), endpoint,
 * headers, sampler (OTEL_TRACES_SAMPLER and _ARG; default parent-based always-on),
 * OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES (which win over what is set here).
 *
 * Tracing is on only where an exporter is asked for: OTEL_EXPORTER_OTLP_ENDPOINT,
 * OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or OTEL_TRACES_EXPORTER is set, and OTEL_SDK_DISABLED is not
 * true. Unlike the SDK's own default (export to localhost:4318 whether or not anything listens),
 * a process with nothing configured pays nothing and logs nothing. The SDK exports traces only:
 * metrics are prom-client's, and logs are pino's on stdout.
 *
 * No auto-instrumentation is loaded: every span is made by this project's own code (the hosts,
 * the NATS bus decorator, the Redis store, the gateway's HTTP middleware), so nothing depends on
 * patching modules at load time, which ESM makes fragile.
 */
export function startTracing(options: TracingOptions): Tracing {
  const env = options.env ?? process.env;
  const asked = ["OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_TRACES_EXPORTER"].some(
    (name) => (env[name] ?? "").trim() !== "",
  );
  const disabled = (env["OTEL_SDK_DISABLED"] ?? "").trim().toLowerCase() === "true";
  if (!asked || disabled) {
    options.logger.info(
      { tracing: "off" },
      disabled
        ? "tracing off (OTEL_SDK_DISABLED=true)"
        : "tracing off: set OTEL_EXPORTER_OTLP_ENDPOINT to export traces",
    );
    return { enabled: false, shutdown: () => Promise.resolve() };
  }
  if (env["OTEL_LOG_LEVEL"] === undefined) diag.setLogger(diagToLogger(options.logger), DiagLogLevel.WARN);
  const sdk = new NodeSDK({
    resource: defaultResource().merge(
      resourceFromAttributes({
        "service.name": `paxos-${options.role}`,
        "service.namespace": options.cluster,
        "service.instance.id": options.instanceId,
      }),
    ),
    // The SDK's default list adds a random service.instance.id, which would hide ours; the env
    // detector comes last so that OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES win.
    resourceDetectors: [processDetector, hostDetector, osDetector, envDetector],
    metricReaders: [],
    logRecordProcessors: [],
  });
  sdk.start();
  const endpoint = env["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] ?? env["OTEL_EXPORTER_OTLP_ENDPOINT"] ?? "(default)";
  options.logger.info(
    { tracing: "on", endpoint, sampler: env["OTEL_TRACES_SAMPLER"] ?? "parentbased_always_on" },
    `tracing on: exporting spans to ${endpoint}`,
  );
  return {
    enabled: true,
    shutdown: () =>
      sdk.shutdown().catch((error: unknown) => {
        options.logger.warn({ err: error }, "exporting the last spans failed");
      }),
  };
}

function diagToLogger(logger: TracingOptions["logger"]): DiagLogger {
  const warn = (message: string, ...args: unknown[]): void =>
    logger.warn({ component: "opentelemetry", detail: args.map(String).join(" ") }, message);
  const ignore = (): void => undefined;
  return { error: warn, warn, info: ignore, debug: ignore, verbose: ignore };
}
