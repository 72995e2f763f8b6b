import { hash } from "node:crypto";
import type { Request, RequestHandler } from "express";
import { type AugmentedRequest, ipKeyGenerator, MemoryStore, type Options, rateLimit } from "express-rate-limit";
import type { Logger } from "pino";
import { clientOf, type GatewayAuth, isOpenPath } from "./authentication.ts";
import type { GatewayLimits } from "./gateway-limits.ts";
import { HttpProblem } from "./problem.ts";

/*
 * Requests per client, with express-rate-limit: at most `rateLimitRequestsMax` per fixed window of
 * `rateLimitWindowMs`, counted per authenticated client id, or per IP address (IPv6 per /56) for
 * the requests that carry no identity (open API paths, and every request with PAXOS_AUTH=none).
 * One client's flood therefore never limits another client. Over the limit: 429 problem with
 * `Retry-After` (seconds to the window's end) and the standard `RateLimit` and `RateLimit-Policy`
 * headers (IETF draft-8) on every limited path.
 *
 * Its MemoryStore holds two maps, the clients seen in this window and the last: each window it
 * drops the older one, so it holds only the clients of the last two windows, not every client
 * ever seen. Counts are per gateway process: N gateways admit up to N times the limit.
 */

/** Never limited: orchestrators probe and Prometheus scrapes on their own schedule. */
const UNLIMITED_PATHS: ReadonlySet<string> = new Set(["/healthz", "/readyz", "/metrics"]);

/**
 * The rate-limiting middleware for `limits`, mounted after `authenticate` (it counts by the
 * authenticated client); a pass-through when `rateLimitRequestsMax` is 0. Its warnings (such as
 * a misconfigured proxy) go to `logger`.
 */
export function clientRateLimit(limits: GatewayLimits, logger: Logger): RequestHandler {
  if (limits.rateLimitRequestsMax === 0) return (_req, _res, next) => next();
  return rateLimit({
    windowMs: limits.rateLimitWindowMs,
    limit: limits.rateLimitRequestsMax,
    standardHeaders: "draft-8",
    legacyHeaders: false,
    skip: (req) => UNLIMITED_PATHS.has(req.path),
    keyGenerator: (req) => {
      const client = clientOf(req);
      if (client?.authenticated === true) return `client:${client.clientId}`;
      return `ip:${ipKeyGenerator(req.ip ?? "unknown")}`;
    },
    handler: (req, _res, next) => {
      const resetTime = (req as AugmentedRequest)["rateLimit"]?.resetTime;
      const retryAfterSeconds = Math.max(1, Math.ceil(((resetTime?.getTime() ?? Date.now()) - Date.now()) / 1_000));
      next(
        new HttpProblem(
          "tooManyRequests",
          `More than ${limits.rateLimitRequestsMax} requests in ${limits.rateLimitWindowMs} ms; retry after ${retryAfterSeconds} s`,
          { headers: { "Retry-After": String(retryAfterSeconds) } },
        ),
      );
    },
    logger: {
      warn: (error, message) => logger.warn({ err: error }, message ?? "rate limiter warning"),
      error: (error, message) => logger.error({ err: error }, message ?? "rate limiter error"),
    },
  });
}

/**
 * The middleware that holds back an address whose requests were refused 401 `authFailuresMax`
 * times within `authFailureWindowMs` (see GatewayLimits): mounted before `authenticate`, it
 * answers that address's requests to paths that need a token 429 with `Retry-After` until the
 * window ends, without verifying their tokens. Requests whose Authorization header was accepted
 * lately (its SHA-256 among the last `authKnownCredentialsMax` accepted) still go on to be
 * verified as usual, so that other clients behind the same address are not held back with it;
 * remembering a header grants nothing by itself. Counts are kept in express-rate-limit's
 * MemoryStore (fixed windows; only the addresses of the last two windows are held), counted when
 * a 401 answer is sent. A pass-through when the limit is 0 or nothing needs a token.
 */
export function authFailureLimit(auth: GatewayAuth, limits: GatewayLimits, logger: Logger): RequestHandler {
  if (limits.authFailuresMax === 0 || auth.mode === "none") return (_req, _res, next) => next();
  const store = new MemoryStore();
  // The store reads only the window from the options a rate limiter would pass it.
  store.init({ windowMs: limits.authFailureWindowMs } as Options);
  const known = new Set<string>();
  const digestOf = (req: Request): string => hash("sha256", req.get("Authorization") ?? "", "base64");
  return async (req, res, next) => {
    if (isOpenPath(auth, req.path)) return next();
    const address = ipKeyGenerator(req.ip ?? "unknown");
    const failures = await store.get(address);
    if (failures !== undefined && failures.totalHits >= limits.authFailuresMax && !known.has(digestOf(req))) {
      const endsMs = failures.resetTime?.getTime() ?? Date.now() + limits.authFailureWindowMs;
      const retryAfterSeconds = Math.max(1, Math.ceil((endsMs - Date.now()) / 1_000));
      throw new HttpProblem(
        "tooManyRequests",
        `${limits.authFailuresMax} requests from this address were refused for their credentials within ` +
          `${limits.authFailureWindowMs} ms; retry after ${retryAfterSeconds} s`,
        { headers: { "Retry-After": String(retryAfterSeconds) } },
      );
    }
    res.once("finish", () => {
      if (res.statusCode !== 401) {
        if (clientOf(req)?.authenticated === true) remember(known, digestOf(req), limits.authKnownCredentialsMax);
        return;
      }
      void store.increment(address).then((counted) => {
        if (counted.totalHits === limits.authFailuresMax) {
          logger.warn(
            { address, failures: counted.totalHits, until: counted.resetTime?.toISOString() },
            "holding back an address after repeated refused credentials",
          );
        }
      });
    });
    next();
  };
}

/** Adds `digest` to `known` as its newest member, forgetting the oldest beyond `max`. */
function remember(known: Set<string>, digest: string, max: number): void {
  known.delete(digest);
  known.add(digest);
  if (known.size > max) {
    const oldest = known.values().next().value;
    if (oldest !== undefined) known.delete(oldest);
  }
}
