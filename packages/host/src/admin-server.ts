import { exposition } from "@paxos/telemetry";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import express from "express";
import type { Registry } from "prom-client";
import type { Logger } from "./logger.ts";

/** What a role reports to `/readyz`: ready or not, and why, for people reading the answer. */
export interface Readiness {
  readonly ready: boolean;
  readonly detail: Readonly<Record<string, unknown>>;
}

/** How the admin server is set up. */
export interface AdminServerOptions {
  /** TCP port; 0 picks a free one (see `AdminServer.port`). */
  readonly port: number;
  /** Interface to bind, e.g. "0.0.0.0" in a container, "127.0.0.1" on a shared machine. */
  readonly host: string;
  readonly registry: Registry;
  /** Called on every `/readyz`; must be cheap and must not throw. */
  readonly readiness: () => Readiness;
  /** True while the bus is connected; not ready while it is not. Always connected when absent. */
  readonly connected?: () => boolean;
  readonly logger: Logger;
}

/** A running admin server. */
export interface AdminServer {
  /** The port it listens on (the chosen one when started with port 0). */
  readonly port: number;
  /** Stops accepting connections and closes open ones. */
  close(): Promise<void>;
}

/**
 * Starts the admin HTTP server of a role process: `/healthz` (200 while the process runs),
 * `/readyz` (200 when `readiness()` says ready and the bus is connected, else 503; JSON detail
 * either way) and `/metrics`
 * (the Prometheus text of `registry`). Resolves once it listens.
 */
export async function startAdminServer(options: AdminServerOptions): Promise<AdminServer> {
  const app = express();
  app.disable("x-powered-by");
  app.get("/healthz", (_req, res) => {
    res.json({ status: "ok" });
  });
  app.get("/readyz", (_req, res) => {
    const readiness = options.readiness();
    const connected = options.connected?.() ?? true;
    const ready = readiness.ready && connected;
    res.status(ready ? 200 : 503).json({ ready, busConnected: connected, ...readiness.detail });
  });
  app.get("/metrics", async (req, res) => {
    try {
      const { contentType, body } = await exposition(options.registry, req.get("accept"));
      res.type(contentType).send(body);
    } catch (error) {
      options.logger.error({ err: error }, "metrics collection failed");
      res.status(500).type("text/plain").send("metrics collection failed\n");
    }
  });

  const server = await new Promise<Server>((resolve, reject) => {
    const listening = app.listen(options.port, options.host, (error?: Error) => {
      if (error !== undefined) reject(error);
      else resolve(listening);
    });
  });
  const port = (server.address() as AddressInfo).port;
  options.logger.info({ port, host: options.host }, "admin server listening (/healthz /readyz /metrics)");
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
