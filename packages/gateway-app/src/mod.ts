/**
 * @paxos/gateway-app: the REST gateway of DESIGN.md as an express 5 app over a Bus, so that the
 * gateway service (over NATS) and the embedded single-process cluster (over memory) run the same
 * code. Errors are `application/problem+json`.
 */
export { createGatewayApp, type GatewayApp, type GatewayAppOptions } from "./gateway-app.ts";
export { DEFAULT_GATEWAY_LIMITS, type GatewayLimits } from "./gateway-limits.ts";
export { type GatewayServerLimits, gatewayServerLimits } from "./http-server.ts";
export { PROBLEMS, type ProblemCode, problemType } from "./problem.ts";
export { IDEMPOTENCY_KEY_PATTERN } from "./request-validation.ts";
