/**
 * @paxos/transport-nats: the Bus port over core NATS. Run the roles on it with @paxos/wire's
 * BusTransport, and the gateway and learners with its service API.
 */
export { NatsBus, type NatsBusOptions, type NatsBusStatus } from "./nats-bus.ts";
