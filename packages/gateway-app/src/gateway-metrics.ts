import { exemplarHistogram } from "@paxos/telemetry";
import { Counter, Gauge, type Histogram, type Registry } from "prom-client";

/**
 * The gateway's Prometheus metrics, registered in the registry the caller gives (one per process,
 * or per gateway in the embedded cluster). Routes are label values by their pattern
 * (`/v1/log/:index`), never by the raw path, so the label set stays bounded.
 */
export class GatewayMetrics {
  readonly requests: Counter<"route" | "status">;
  readonly requestDuration: Histogram<"route" | "status">;
  readonly proposals: Counter<"outcome">;
  readonly proposeAttempts: Counter<"reply">;
  readonly streams: Gauge;
  readonly leaderKnown: Gauge;
  readonly droppedMessages: Counter<"reason">;

  constructor(registry: Registry) {
    this.requests = new Counter({
      name: "paxos_gateway_requests_total",
      help: "HTTP requests answered, by route pattern and status code.",
      labelNames: ["route", "status"],
      registers: [registry],
    });
    this.requestDuration = exemplarHistogram(registry, {
      name: "paxos_gateway_request_duration_seconds",
      help: "Time from an HTTP request's arrival to its answer (to the end of the stream for SSE).",
      labelNames: ["route", "status"],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    });
    this.proposals = new Counter({
      name: "paxos_gateway_proposals_total",
      help: "Proposals that passed validation, by outcome (created, replayed, conflict, inFlight, tooLarge, unavailable, timeout).",
      labelNames: ["outcome"],
      registers: [registry],
    });
    this.proposeAttempts = new Counter({
      name: "paxos_gateway_propose_attempts_total",
      help: "Propose requests sent to proposers, by reply (queued, notLeader, overloaded, tooLarge, timeout, noResponders, failed).",
      labelNames: ["reply"],
      registers: [registry],
    });
    this.streams = new Gauge({
      name: "paxos_gateway_log_streams",
      help: "Log streams (SSE) open now.",
      registers: [registry],
    });
    this.leaderKnown = new Gauge({
      name: "paxos_gateway_leader_known",
      help: "1 while a leader heartbeat was heard within the leader timeout, else 0.",
      registers: [registry],
    });
    this.droppedMessages = new Counter({
      name: "paxos_gateway_dropped_messages_total",
      help: "Bus messages the gateway dropped, by reason (undecodable, idMismatch, unknownAcceptor).",
      labelNames: ["reason"],
      registers: [registry],
    });
  }
}
