// The one-off initialisation of a new acceptor (docker compose's acceptor-<id>-init service): with
// the acceptor's own environment, it writes the acceptor's identity into its Redis if that Redis
// holds none of the acceptor's keys (what PAXOS_ACCEPTOR_INIT=1 allows at a first start), checks
// the durability settings as the acceptor would, and exits. So the acceptor itself always runs
// without PAXOS_ACCEPTOR_INIT and refuses a Redis that was wiped after it joined.
//
// Usage: node services/acceptor/src/init.ts [--once MARKER_FILE]
//
// An init step that runs on every start is a permanent init flag in disguise: it would initialise
// a wiped Redis again, and the acceptor would vote from it with its promises forgotten. With
// `--once`, the first success writes MARKER_FILE (on a volume of its own, not the Redis one), and
// while that file exists the step initialises nothing: a Redis found empty then stays refused.
//
// Exit codes: 0 initialised, already initialised, or skipped by the marker; 2 bad configuration or
// usage; 69 Redis unreachable; 78 Redis refused (not durable, or holding this acceptor's state
// without its identity, or another acceptor's).
import { existsSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { acceptorConfig, createLogger, EXIT_CODES, loadConfigOrExit } from "@paxos/host";
import { RedisAcceptorStore } from "@paxos/store-redis";

/** Bound on each Redis command, as the acceptor's own. */
const REDIS_COMMAND_TIMEOUT_MS = 2_000;

let markerFile: string | undefined;
try {
  markerFile = parseArgs({ options: { once: { type: "string" } } }).values.once;
} catch (error) {
  process.stderr.write(`acceptor init: ${error instanceof Error ? error.message : String(error)}\n`);
  process.stderr.write("usage: node services/acceptor/src/init.ts [--once MARKER_FILE]\n");
  process.exit(EXIT_CODES.config);
}

const config = loadConfigOrExit("acceptor init", acceptorConfig);
const logger = createLogger("acceptor-init", config.acceptorId, config.logLevel);

if (markerFile !== undefined && existsSync(markerFile)) {
  logger.info(
    { marker: markerFile },
    "this acceptor was initialised before: not initialising again (the acceptor refuses an empty Redis)",
  );
  process.exit(EXIT_CODES.ok);
}

const store = new RedisAcceptorStore({
  redisUrl: config.redisUrl,
  cluster: config.cluster,
  acceptorId: config.acceptorId,
  allowInit: true,
  unsafeSkipDurabilityChecks: config.unsafeSkipDurabilityChecks,
  commandTimeoutMs: REDIS_COMMAND_TIMEOUT_MS,
  logger: (level, msg, fields) => logger[level](fields, msg),
});
try {
  await store.open();
} catch (error) {
  const code = (error as { code?: unknown }).code;
  logger.fatal({ err: error, code }, "cannot initialise this acceptor's Redis");
  process.exit(code === "unavailable" ? EXIT_CODES.unavailable : EXIT_CODES.storageRefused);
}
await store.close();
if (markerFile !== undefined) await writeFile(markerFile, `${config.cluster} ${config.acceptorId}\n`);
logger.info({ marker: markerFile ?? null }, "acceptor initialised: its Redis holds its identity");
process.exit(EXIT_CODES.ok);
