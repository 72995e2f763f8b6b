/**
 * @paxos/transport-nats: the Bus port over core NATS, and the server-side permissions that bind
 * each process to its own subjects. Run the roles on it with @paxos/wire's BusTransport, and the
 * gateway and learners with its service API.
 */
export { NatsBus, type NatsBusOptions, type NatsBusStatus } from "./nats-bus.ts";
export {
  ClusterCredentials,
  inboxPrefix,
  natsAuthorization,
  rolePermissions,
  type ClusterIdentity,
  type NatsExtraUser,
  type NatsPermissions,
  type NatsUserEntry,
} from "./permissions.ts";
