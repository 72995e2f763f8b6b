/**
 * @paxos/client: a native NATS client of the cluster. It proposes values straight to the leader
 * with the REST gateway's own proposal path (leader tracking, retries under one request id,
 * waiting for the learners' delivery, bounded by a timeout), without HTTP. Failures are
 * PaxosClientErrors with a closed set of codes.
 */
export { PaxosClientError, type PaxosClientErrorCode, type PaxosClientErrorDetails } from "./client-error.ts";
export { type PaxosClientOptions } from "./client-options.ts";
export { type DecidedProposal, PaxosClient, type ProposeOptions } from "./paxos-client.ts";
