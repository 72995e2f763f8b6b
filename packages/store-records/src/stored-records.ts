import {
  type AcceptedEntry,
  type AcceptorWrite,
  type Ballot,
  ballotKey,
  type ClientRequest,
  compareBallots,
  invariant,
  type JsonValue,
  type SlotValue,
} from "@paxos/core";

/*
 * How the stores (Redis, files) write ballots, slots and values, and their strict parsing on load.
 * Rounds and slots are decimal strings of safe integers, never floats: a value read back is either
 * exactly what was written or refused as corrupt. One module, so every store reads the same way.
 */

/** A proposer id is `<name>-<nonce>`; ASCII keeps the Lua byte order equal to the JS order. */
const PROPOSER_ID_PATTERN = /^[A-Za-z0-9_-]{1,128}$/;
const DECIMAL_PATTERN = /^(0|[1-9][0-9]*)$/;

/** The identity record written once when the acceptor first joins. */
export interface IdentityRecord {
  readonly cluster: string;
  readonly acceptorId: string;
  readonly createdAtMs: number;
}

/** Stored data that cannot be read back as written. The store reports it as "corrupt". */
export class RecordError extends Error {
  override readonly name = "RecordError";
}

/** True for a proposer id the stores can order the same way in Lua and in JS. */
export function isValidProposerId(id: string): boolean {
  return PROPOSER_ID_PATTERN.test(id);
}

/** Parses a decimal string of a non-negative safe integer; anything else throws RecordError. */
export function parseSafeInteger(text: unknown, what: string): number {
  if (typeof text !== "string" || !DECIMAL_PATTERN.test(text)) {
    throw new RecordError(`${what} is not a decimal integer: ${JSON.stringify(text)}`);
  }
  const value = Number(text);
  if (!Number.isSafeInteger(value)) throw new RecordError(`${what} is not a safe integer: ${text}`);
  return value;
}

/** Parses a stored ballot: round as a decimal string, proposerId a valid id ("" only at round 0). */
export function parseBallot(round: unknown, proposerId: unknown, what: string): Ballot {
  const parsedRound = parseSafeInteger(round, `${what} round`);
  if (typeof proposerId !== "string") throw new RecordError(`${what} proposerId is missing`);
  const zero = parsedRound === 0 && proposerId === "";
  if (!zero && !isValidProposerId(proposerId)) {
    throw new RecordError(`${what} proposerId is not a valid id: ${JSON.stringify(proposerId)}`);
  }
  return { round: parsedRound, proposerId };
}

/** The identity key's JSON text. */
export function encodeIdentity(identity: IdentityRecord): string {
  return JSON.stringify(identity);
}

/** Parses the identity key's JSON text. */
export function decodeIdentity(json: string): IdentityRecord {
  const record = parseJsonObject(json, "identity");
  const { cluster, acceptorId, createdAtMs } = record;
  if (typeof cluster !== "string" || typeof acceptorId !== "string") {
    throw new RecordError(`identity lacks cluster or acceptorId: ${json}`);
  }
  if (typeof createdAtMs !== "number" || !Number.isSafeInteger(createdAtMs)) {
    throw new RecordError(`identity createdAtMs is not an integer: ${json}`);
  }
  return { cluster, acceptorId, createdAtMs };
}

/** The JSON text stored for one accepted slot (the slot itself is the hash field). */
export function encodeAcceptedEntry(entry: AcceptedEntry): string {
  return JSON.stringify({ round: String(entry.ballot.round), proposerId: entry.ballot.proposerId, value: entry.value });
}

/** Parses one stored accepted entry; `slotText` is its hash field. */
export function decodeAcceptedEntry(slotText: string, json: string): AcceptedEntry {
  const slot = parseSafeInteger(slotText, "accepted slot");
  const record = parseJsonObject(json, `accepted entry of slot ${slot}`);
  const ballot = parseBallot(record["round"], record["proposerId"], `accepted ballot of slot ${slot}`);
  return { slot, ballot, value: parseSlotValue(record["value"], `value of slot ${slot}`) };
}

/** Checks that a stored value is a SlotValue: a no-op, or a batch of {id, payload} requests. */
export function parseSlotValue(value: unknown, what: string): SlotValue {
  if (!isObject(value)) throw new RecordError(`${what} is not an object`);
  if (value["kind"] === "noop") return { kind: "noop" };
  const requests = value["requests"];
  if (value["kind"] !== "batch" || !Array.isArray(requests)) throw new RecordError(`${what} is not a slot value`);
  return {
    kind: "batch",
    requests: requests.map((request: unknown, i): ClientRequest => {
      if (!isObject(request) || typeof request["id"] !== "string" || !("payload" in request)) {
        throw new RecordError(`${what}: request ${i} is not {id, payload}`);
      }
      // The payload came out of JSON.parse, so it is a JsonValue by construction.
      return { id: request["id"], payload: request["payload"] as JsonValue };
    }),
  };
}

/** Parses JSON text that must hold an object; anything else throws RecordError. */
export function parseJsonObject(json: string, what: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch (error) {
    throw new RecordError(`${what} is not JSON: ${String(error)}`);
  }
  if (!isObject(parsed)) throw new RecordError(`${what} is not a JSON object`);
  return parsed;
}

/** True for a plain JSON object (not null, not an array). */
export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Checks what the core guarantees of every acceptor write (safe integers, a valid proposer id, an
 * accept at the promised ballot). A failure is a bug in the caller, so it throws InvariantViolation.
 */
export function checkAcceptorWrite(write: AcceptorWrite): void {
  const { promised, accept } = write;
  invariant(Number.isSafeInteger(promised.round) && promised.round >= 0, `bad round ${promised.round}`);
  invariant(isValidProposerId(promised.proposerId), `bad proposer id ${JSON.stringify(promised.proposerId)}`);
  invariant(Number.isSafeInteger(write.chosenBelow) && write.chosenBelow >= 0, `bad chosenBelow ${write.chosenBelow}`);
  if (accept === null) return;
  invariant(Number.isSafeInteger(accept.slot) && accept.slot >= 0, `bad slot ${accept.slot}`);
  invariant(
    compareBallots(accept.ballot, promised) === 0,
    `accept at ${ballotKey(accept.ballot)} must raise the promise to its ballot, not ${ballotKey(promised)}`,
  );
}
