import { startTracing, type Tracing, TracingBus } from "@paxos/telemetry";
import type { Bus, Subjects } from "@paxos/wire";
import type { Logger } from "./logger.ts";

/** A service process's tracing: the SDK (see startTracing) and how to trace its bus. */
export interface ProcessTracing extends Tracing {
  /**
   * `bus` with NATS PRODUCER and CONSUMER spans around every traced message when tracing is on;
   * `bus` itself when it is off, so trace headers from traced peers pass through untouched.
   */
  traceBus(bus: Bus, subjects: Subjects): Bus;
}

/**
 * Starts the tracing of one service process (`service.name` paxos-<role>, `service.instance.id`
 * its id in the cluster), configured by the OTEL_* variables. Call it before connecting to NATS.
 */
export function startProcessTracing(options: {
  readonly role: string;
  readonly instanceId: string;
  readonly cluster: string;
  readonly logger: Logger;
}): ProcessTracing {
  const tracing = startTracing(options);
  return {
    ...tracing,
    traceBus: (bus, subjects) =>
      tracing.enabled
        ? new TracingBus(bus, { system: "nats", template: (subject) => subjects.template(subject) })
        : bus,
  };
}
