/**
 * @paxos/gateway-app: the REST gateway of DESIGN.md as an express 5 app over a Bus, so that the
 * gateway service (over NATS) and the embedded single-process cluster (over memory) run the same
 * code. Errors are `application/problem+json`. Clients authenticate with bearer tokens (JWTs or
 * static tokens), are rate-limited per client, and their Idempotency-Keys are scoped to them.
 */
export {
  type AuthSettings,
  type JwtKeySource,
  loadGatewayAuth,
  parseKeyFile,
  type TokensSource,
} from "./auth-setup.ts";
export {
  AuthSetupError,
  type ClientIdentity,
  type GatewayAuth,
  type OpenPath,
  SCOPES,
  type TokenCheck,
  type TokenVerifier,
} from "./authentication.ts";
export { createGatewayApp, type GatewayApp, type GatewayAppOptions } from "./gateway-app.ts";
export {
  AUTH_LIMITS,
  DEFAULT_GATEWAY_LIMITS,
  ENV_TUNABLE_GATEWAY_LIMITS,
  type GatewayLimits,
  type GatewayServerLimits,
  gatewayServerLimits,
} from "./gateway-limits.ts";
export { scopedRequestId } from "./idempotency-scope.ts";
export {
  DEFAULT_JWT_ALGORITHMS,
  JWT_ALGORITHMS,
  type JwtAlgorithm,
  jwtVerifier,
  type JwtVerifierOptions,
  remoteKeySet,
} from "./jwt-verifier.ts";
export { PROBLEMS, type ProblemCode, problemType } from "./problem.ts";
export { IDEMPOTENCY_KEY_PATTERN } from "./request-validation.ts";
export { parseTokensFile, type StaticToken, staticTokenVerifier } from "./static-tokens.ts";
// The pieces of the proposal path, for @paxos/client, which runs it over NATS without HTTP.
export { BusClusterClient, type BusClusterClientOptions } from "./bus-cluster-client.ts";
export { DeliveryWaiters } from "./delivery-waiters.ts";
export { gatewayLimits } from "./gateway-limits.ts";
export { GatewayMetrics } from "./gateway-metrics.ts";
export { type KnownLeader, LeaderTracker } from "./leader-tracker.ts";
export { HttpProblem } from "./problem.ts";
export { type Proposal, type ProposalResult, ProposalService } from "./proposal-service.ts";
