import type { Limits } from "@paxos/core";
import type { HostLimits } from "@paxos/drivers";
import { type Bus, BusTransport, type ServiceOptions, type Subjects } from "@paxos/wire";
import type { Registry } from "prom-client";
import { EXIT_CODES } from "./exit-codes.ts";
import type { FatalHandler } from "./fatal.ts";
import type { Logger } from "./logger.ts";
import { dropReporter } from "./drops.ts";

/** What a role needs to talk over a Bus: the protocol Transport and the service-API options. */
export interface BusWiring {
  readonly transport: BusTransport;
  readonly serviceOptions: ServiceOptions;
}

/** The pieces `wireBus` joins. */
export interface BusWiringOptions {
  readonly bus: Bus;
  readonly subjects: Subjects;
  readonly acceptorIds: readonly string[];
  readonly logger: Logger;
  /** The role's own registry (see createRegistry). */
  readonly registry: Registry;
  readonly onFatal: FatalHandler;
  readonly limits?: Limits;
  /** The role's driver bounds that differ from DEFAULT_HOST_LIMITS. */
  readonly hostLimits?: Partial<HostLimits>;
}

/**
 * Builds a role's BusTransport and service options over `bus`. Every inbound message refused at
 * the boundary is counted in `paxos_dropped_messages_total{reason}` and logged (dropReporter); an error
 * thrown by a handler (the hosts catch their own, so this is a bug or a broken invariant) goes to
 * `onFatal` with exit code 70.
 */
export function wireBus(options: BusWiringOptions): BusWiring {
  const report = dropReporter(options.registry, options.logger);
  const onDrop = (reason: string, subject: string, detail: string): void => report(reason, detail, subject);
  const onHandlerError = (error: unknown): void => options.onFatal(error, EXIT_CODES.invariant);
  const limits = options.limits === undefined ? {} : { limits: options.limits };
  return {
    transport: new BusTransport({
      bus: options.bus,
      subjects: options.subjects,
      acceptorIds: options.acceptorIds,
      onDrop,
      onHandlerError,
      ...limits,
    }),
    serviceOptions: { onDrop, onHandlerError, ...limits },
  };
}
