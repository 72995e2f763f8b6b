/**
 * Telemetry adapters of the services: the OpenTelemetry Node SDK started from OTEL_* variables,
 * a Bus decorator that records NATS PRODUCER and CONSUMER spans, and the Prometheus exposition
 * (text or OpenMetrics with trace-id exemplars) of a prom-client registry.
 */
export { startTracing, type Tracing, type TracingOptions } from "./tracing.ts";
export { TracingBus, type TracingBusOptions } from "./tracing-bus.ts";
export {
  activeTraceId,
  exemplarHistogram,
  exposition,
  type Exposition,
  observeTraced,
  sampledTraceId,
} from "./exposition.ts";
