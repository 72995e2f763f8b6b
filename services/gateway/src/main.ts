// The gateway process: the REST API of DESIGN.md over NATS. Thin wiring only: config →
// authentication (tokens or keys) → NATS → gateway app (@paxos/gateway-app) → HTTP server → signals. The REST port also serves /healthz,
// /readyz and /metrics, so the gateway needs no separate admin server.
import { randomBytes } from "node:crypto";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { AuthSetupError, createGatewayApp, type GatewayAuth, loadGatewayAuth } from "@paxos/gateway-app";
import {
  connectBusOrExit,
  createLogger,
  createRegistry,
  EXIT_CODES,
  installFatalHandlers,
  installShutdown,
  loadConfigOrExit,
  startProcessTracing,
} from "@paxos/host";
import { NatsBus } from "@paxos/transport-nats";
import { Subjects } from "@paxos/wire";
import { gatewayConfig } from "./config.ts";

const config = loadConfigOrExit("gateway", gatewayConfig);
const gatewayId = `gateway-${randomBytes(4).toString("hex")}`;
const logger = createLogger("gateway", gatewayId, config.logLevel);
installFatalHandlers(logger);
const registry = createRegistry();
const tracing = startProcessTracing({ role: "gateway", instanceId: gatewayId, cluster: config.cluster, logger });

// Before NATS: a tokens or key file that cannot be read is a configuration error, found at once.
let auth: GatewayAuth;
try {
  auth = await loadGatewayAuth(config.auth, logger);
} catch (error) {
  if (!(error instanceof AuthSetupError)) throw error;
  logger.fatal({ problems: error.problems }, "cannot set up authentication");
  process.exit(EXIT_CODES.config);
}
logger.info({ auth: config.auth.mode }, "authentication set up");

const bus = await connectBusOrExit(logger, registry, config.nats, (connection) =>
  NatsBus.connect({ ...connection, name: gatewayId, echo: false }),
);

const subjects = new Subjects(config.cluster);
const gateway = createGatewayApp({
  bus: tracing.traceBus(bus, subjects),
  subjects,
  acceptorIds: config.acceptorIds,
  auth,
  protocolLimits: config.protocolLimits,
  limits: {
    ...config.gatewayLimits,
    proposalTimeoutMs: config.proposalTimeoutMs,
    rateLimitRequestsMax: config.rateLimitRequestsMax,
    rateLimitWindowMs: config.rateLimitWindowMs,
  },
  registry,
  connected: () => bus.isConnected,
  logger,
});

let server: Server;
try {
  // With the gateway's limits against slow clients (headers, request and keep-alive timeouts).
  server = await gateway.listen(config.httpPort, config.httpHost);
} catch (error) {
  logger.fatal({ err: error, port: config.httpPort, host: config.httpHost }, "cannot listen");
  process.exit(EXIT_CODES.unavailable);
}
const { port } = server.address() as AddressInfo;
logger.info({ port, host: config.httpHost, cluster: config.cluster }, "gateway listening");

let serverClosed: Promise<void> = Promise.resolve();
installShutdown(logger, [
  {
    name: "http",
    // Stop taking connections; requests in progress may still finish while the gateway closes.
    run: () => {
      serverClosed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      return Promise.resolve();
    },
  },
  // Ends log streams and makes waiting proposals answer now, so open connections can finish.
  { name: "gateway", run: () => gateway.close() },
  {
    name: "connections",
    run: async () => {
      server.closeAllConnections();
      await serverClosed;
    },
  },
  { name: "nats", run: () => bus.close() },
  { name: "telemetry", run: () => tracing.shutdown() },
]);
