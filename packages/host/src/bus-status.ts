import type { Logger } from "./logger.ts";

/**
 * A bus connection event's log line: disconnects and errors at warn, reconnects at info, the
 * rest at debug. Takes any `{ type }` record (NatsBus's statuses) so the host needs no NATS
 * types. Pass the result as the bus's status callback.
 */
export function logBusStatus(logger: Logger): (status: { readonly type: string }) => void {
  return (status) => {
    switch (status.type) {
      case "disconnect":
      case "staleConnection":
      case "slowConsumer":
      case "error":
        logger.warn({ bus: status }, `bus ${status.type}`);
        return;
      case "reconnect":
        logger.info({ bus: status }, "bus reconnected");
        return;
      default:
        logger.debug({ bus: status }, `bus ${status.type}`);
    }
  };
}
