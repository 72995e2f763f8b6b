import { checkLimits, DEFAULT_LIMITS, type Limits } from "@paxos/core";
import { AUTH_LIMITS, DEFAULT_GATEWAY_LIMITS } from "@paxos/gateway-app";
import { ID_PATTERN } from "@paxos/wire";
import type { Logger } from "pino";
import { Registry } from "prom-client";
import { z } from "zod";
import { PaxosClientError } from "./client-error.ts";

/** How `PaxosClient.connect` reaches the cluster, as whom, and with which bounds. */
export interface PaxosClientOptions {
  /** NATS server URLs, such as `nats://127.0.0.1:4222` (or `tls://…`); one or more. */
  readonly servers: string | readonly string[];
  /**
   * The NATS user: a gateway identity of the cluster, `gateway-<id>` (permissions.ts lets only
   * gateway users send proposals, and lets each one receive replies only under its own inbox
   * prefix, `_INBOX_<user>`, which the client uses). Several clients may share one user.
   */
  readonly user: string;
  readonly password: string;
  /** The cluster name in every subject (PAXOS_CLUSTER of the services). */
  readonly cluster: string;
  /** The configured acceptors (PAXOS_ACCEPTOR_IDS): messages naming other acceptors are dropped. */
  readonly acceptorIds: readonly string[];
  /**
   * TLS, as NatsBus takes it: the CA that signs the server's certificate, and this client's own
   * certificate and key (both or neither) where the server asks for one.
   */
  readonly tls?: { readonly caFile?: string; readonly certFile?: string; readonly keyFile?: string };
  /**
   * How long one `propose` may take, riding through a leader failover, before it fails
   * `unavailable` (no proposer took it) or `outcomeUnknown`. Default the gateway's, 10 000 ms.
   */
  readonly proposalTimeoutMs?: number;
  /**
   * The cluster's protocol limits where its services run with PAXOS_LIMITS: the same overrides
   * (that variable's JSON, parsed). The largest and deepest value the client sends and its batches
   * follow from them. Default: none, the services' defaults.
   */
  readonly limits?: Partial<Limits>;
  /**
   * Whose idempotency keys these are: a keyed proposal's request id is derived from this name and
   * the key (`scopedRequestId`), as the gateway derives it from the authenticated client id, so
   * that a REST client with the same id and key reaches the same entry. Default `user`.
   */
  readonly clientName?: string;
  /** Time to open the first NATS connection before `connect` fails `unreachable`; default 5000. */
  readonly connectTimeoutMs?: number;
  /** Where the client logs; silent when absent. */
  readonly logger?: Logger;
  /**
   * Where the client's metrics go (the gateway's `paxos_gateway_*` proposal metrics); a private
   * registry when absent. A registry that already holds a gateway's metrics cannot take them.
   */
  readonly registry?: Registry;
}

/** The options once checked, with every default filled in. */
export interface ClientSettings {
  readonly servers: readonly string[];
  readonly user: string;
  readonly password: string;
  readonly cluster: string;
  readonly acceptorIds: readonly string[];
  readonly tls: { readonly caFile?: string; readonly certFile?: string; readonly keyFile?: string } | null;
  readonly proposalTimeoutMs: number;
  readonly protocolLimits: Limits;
  readonly clientName: string;
  readonly connectTimeoutMs: number;
  readonly logger: Logger | null;
  readonly registry: Registry | null;
}

/** The bounds of a proposal timeout, as the gateway service takes PAXOS_PROPOSAL_TIMEOUT_MS. */
const PROPOSAL_TIMEOUT_MS_MIN = 100;
const PROPOSAL_TIMEOUT_MS_MAX = 600_000;
/** The longest NATS user: `gateway-` and a 64-character id fit well within it. */
const USER_CHARS_MAX = 128;

const id = z.string().regex(ID_PATTERN, "must be 1 to 64 of A-Z a-z 0-9 _ -");

/** A server URL or host:port. Never echoed in a message: a URL may hold a password. */
const server = z
  .string()
  .min(1, "must not be empty")
  .max(2_048, "is longer than 2048 characters")
  .regex(/^\S+$/, "must not hold whitespace");

const text = z.string().min(1, "must not be empty");

const schema = z.strictObject({
  servers: z.union([server, z.array(server).min(1, "must list at least one server")], {
    error: "must be a server URL or a list of them",
  }),
  user: z
    .string()
    .regex(
      new RegExp(`^[A-Za-z0-9_-]{1,${USER_CHARS_MAX}}$`),
      "must be a NATS user of the cluster such as gateway-g1 (1 to 128 of A-Z a-z 0-9 _ -: its inbox prefix _INBOX_<user> is one subject token)",
    ),
  password: text,
  cluster: id,
  acceptorIds: z
    .array(id)
    .min(1, "must list at least one acceptor")
    .refine((ids) => new Set(ids).size === ids.length, "must not list an acceptor twice"),
  tls: z
    .strictObject({ caFile: text.optional(), certFile: text.optional(), keyFile: text.optional() })
    .refine((tls) => (tls.certFile === undefined) === (tls.keyFile === undefined), {
      message: "certFile and keyFile go together: set both or neither",
    })
    .optional(),
  proposalTimeoutMs: z
    .int(`must be a whole number of milliseconds`)
    .min(PROPOSAL_TIMEOUT_MS_MIN, `must be at least ${PROPOSAL_TIMEOUT_MS_MIN} ms`)
    .max(PROPOSAL_TIMEOUT_MS_MAX, `must be at most ${PROPOSAL_TIMEOUT_MS_MAX} ms`)
    .optional(),
  limits: z
    .strictObject(
      Object.fromEntries(
        Object.keys(DEFAULT_LIMITS).map((name) => [
          name,
          z.int("must be a whole number").min(1, "must be positive").optional(),
        ]),
      ),
    )
    .optional(),
  clientName: text
    .max(AUTH_LIMITS.clientIdCharsMax, `must be at most ${AUTH_LIMITS.clientIdCharsMax} characters`)
    .optional(),
  connectTimeoutMs: z
    .int("must be a whole number of milliseconds")
    .min(1, "must be at least 1 ms")
    .max(PROPOSAL_TIMEOUT_MS_MAX, `must be at most ${PROPOSAL_TIMEOUT_MS_MAX} ms`)
    .optional(),
  logger: z.custom<Logger>(isLogger, "must be a pino Logger").optional(),
  registry: z.custom<Registry>((value) => value instanceof Registry, "must be a prom-client Registry").optional(),
});

/**
 * Checks `options` once, at the boundary, and fills in the defaults. Throws
 * PaxosClientError("invalidOptions") naming every bad option (never showing a password or URL).
 */
export function clientSettings(options: unknown): ClientSettings {
  const parsed = schema.safeParse(options);
  if (!parsed.success) {
    throw invalidOptions(
      parsed.error.issues.map((issue) => {
        const path = issue.path.map(String).join(".");
        return path === "" ? issue.message : `${path} ${issue.message}`;
      }),
    );
  }
  const o = parsed.data;
  const protocolLimits: Limits = { ...DEFAULT_LIMITS, ...o.limits };
  const misfits = checkLimits(protocolLimits);
  if (misfits.length > 0) throw invalidOptions(misfits.map((problem) => `limits: ${problem}`));
  const tls =
    o.tls === undefined
      ? null
      : {
          ...(o.tls.caFile === undefined ? {} : { caFile: o.tls.caFile }),
          ...(o.tls.certFile === undefined ? {} : { certFile: o.tls.certFile }),
          ...(o.tls.keyFile === undefined ? {} : { keyFile: o.tls.keyFile }),
        };
  return {
    servers: typeof o.servers === "string" ? [o.servers] : o.servers,
    user: o.user,
    password: o.password,
    cluster: o.cluster,
    acceptorIds: o.acceptorIds,
    tls,
    proposalTimeoutMs: o.proposalTimeoutMs ?? DEFAULT_GATEWAY_LIMITS.proposalTimeoutMs,
    protocolLimits,
    clientName: o.clientName ?? o.user,
    connectTimeoutMs: o.connectTimeoutMs ?? 5_000,
    logger: o.logger ?? null,
    registry: o.registry ?? null,
  };
}

function isLogger(value: unknown): boolean {
  if (value === null || typeof value !== "object") return false;
  const logger = value as Record<string, unknown>;
  return ["debug", "info", "warn", "error", "child"].every((method) => typeof logger[method] === "function");
}

function invalidOptions(problems: readonly string[]): PaxosClientError {
  return new PaxosClientError(
    "invalidOptions",
    `Invalid PaxosClient options:\n${problems.map((p) => `  - ${p}`).join("\n")}`,
  );
}
