import { DEFAULT_LIMITS, type Limits, type Message } from "@paxos/core";
import { MESSAGE_TYPES, wireSchemas, type MessageType, type ServiceKind, type ServiceMessages } from "./schemas.ts";
import type { Subjects } from "./subjects.ts";
import { jsonDepthAtMost } from "./json-value.ts";

/*
 * The wire format: UTF-8 JSON in a versioned envelope `{ "v": 1, "cluster": "<name>", "msg": … }`.
 * Decoding is the boundary where inbound bytes become typed messages. It never throws: every
 * refusal is a DecodeFailure with a closed reason, so hosts can count and log it and go on.
 */

/** The envelope version this code writes and accepts. */
export const WIRE_VERSION = 1;

/** Why inbound bytes were refused. */
export type DecodeFailureReason =
  /** More bytes than `messageBytesMax`; refused before decoding. */
  | "tooLarge"
  /** Not UTF-8, or not JSON. */
  | "badJson"
  /** Nested deeper than `jsonDepthMax`; refused before any schema looks at it. */
  | "tooDeep"
  /** The envelope or message does not match its schema. */
  | "schema"
  /** An envelope version other than WIRE_VERSION. */
  | "version"
  /** Sent for another cluster. */
  | "cluster"
  /** A protocol message type this code does not know. */
  | "unknownType"
  /** The subject's kind or ids disagree with the message body. */
  | "subjectMismatch"
  /** From an acceptor id that is not configured. */
  | "unknownAcceptor";

/** A refusal, with a short human-readable detail for logs (never the raw bytes). */
export interface DecodeFailure {
  readonly ok: false;
  readonly reason: DecodeFailureReason;
  readonly detail: string;
}

/** The outcome of decoding: the typed value, or why it was refused. */
export type DecodeResult<T> = { readonly ok: true; readonly msg: T } | DecodeFailure;

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });
const knownTypes: ReadonlySet<string> = new Set(MESSAGE_TYPES);

/**
 * Encodes a protocol message for `cluster`. The caller passes a well-formed message (the roles
 * build them); receivers validate it again, since they trust no sender.
 */
export function encode(cluster: string, msg: Message): Uint8Array {
  return encodeEnvelope(cluster, msg);
}

/** Encodes a service message for `cluster`, in the same envelope as protocol messages. */
export function encodeService<K extends ServiceKind>(cluster: string, _kind: K, msg: ServiceMessages[K]): Uint8Array {
  return encodeEnvelope(cluster, msg);
}

/**
 * Decodes a protocol message received on `subject`, from bytes nobody vouches for. Checks, in
 * order: size, UTF-8, nesting depth, JSON, envelope (version, cluster), type, schema, that the
 * subject agrees with the body (its kind, and the acceptor, proposer and learner ids it names),
 * and that an acceptor sender is one of `acceptorIds`. Never throws.
 */
export function decodeMessage(
  subjects: Subjects,
  subject: string,
  bytes: Uint8Array,
  acceptorIds: ReadonlySet<string>,
  limits: Limits = DEFAULT_LIMITS,
): DecodeResult<Message> {
  try {
    const body = decodeEnvelope(subjects.cluster, bytes, limits);
    if (!body.ok) return body;
    const raw = body.msg;
    const type = isRecord(raw) ? raw["type"] : undefined;
    if (typeof type !== "string" || !knownTypes.has(type)) return fail("unknownType", "unknown message type");
    const parsed = wireSchemas(limits).messages[type as MessageType].safeParse(raw);
    if (!parsed.success) return fail("schema", `${type}: ${firstIssue(parsed.error.issues)}`);
    const msg = parsed.data;
    const mismatch = subjectMismatch(subjects, subject, msg);
    if (mismatch !== null) return fail("subjectMismatch", `${type} on ${subject}: ${mismatch}`);
    const acceptorId = "acceptorId" in msg ? msg.acceptorId : null;
    if (acceptorId !== null && !acceptorIds.has(acceptorId)) {
      return fail("unknownAcceptor", `acceptor ${acceptorId} is not configured`);
    }
    return { ok: true, msg };
  } catch (error) {
    // Nothing above should throw; if a library does, the bytes are still refused, not fatal.
    return fail("schema", `decoder error: ${String(error)}`);
  }
}

/**
 * Decodes a service message of `kind` for `cluster`: size, UTF-8, depth, JSON, envelope and
 * schema, as for protocol messages. Subject checks are the caller's (see service-api). Never throws.
 */
export function decodeService<K extends ServiceKind>(
  cluster: string,
  kind: K,
  bytes: Uint8Array,
  limits: Limits = DEFAULT_LIMITS,
): DecodeResult<ServiceMessages[K]> {
  try {
    const body = decodeEnvelope(cluster, bytes, limits);
    if (!body.ok) return body;
    const schema = wireSchemas(limits).services[kind];
    const parsed = schema.safeParse(body.msg);
    if (!parsed.success) return fail("schema", `${kind}: ${firstIssue(parsed.error.issues)}`);
    return { ok: true, msg: parsed.data };
  } catch (error) {
    return fail("schema", `decoder error: ${String(error)}`);
  }
}

function encodeEnvelope(cluster: string, msg: unknown): Uint8Array {
  return encoder.encode(JSON.stringify({ v: WIRE_VERSION, cluster, msg }));
}

/** Size, UTF-8, JSON, depth, version and cluster; yields the raw `msg` of the envelope. */
function decodeEnvelope(cluster: string, bytes: Uint8Array, limits: Limits): DecodeResult<unknown> {
  if (bytes.byteLength > limits.messageBytesMax) {
    return fail("tooLarge", `${bytes.byteLength} bytes > ${limits.messageBytesMax}`);
  }
  let text: string;
  try {
    text = decoder.decode(bytes);
  } catch {
    return fail("badJson", "not UTF-8");
  }
  let envelope: unknown;
  try {
    // V8's JSON.parse is iterative: hostile nesting costs it no stack, only the bounded bytes.
    envelope = JSON.parse(text);
  } catch {
    return fail("badJson", "not JSON");
  }
  // Bounded on the parsed value, before any schema recurses into it: a walk of its nodes costs a
  // fraction of a scan of its characters (a 4 KiB string is one node), which cost more than the
  // parse itself for messages of large values.
  if (!jsonDepthAtMost(envelope, limits.jsonDepthMax)) {
    return fail("tooDeep", `nested deeper than ${limits.jsonDepthMax}`);
  }
  if (!isRecord(envelope)) return fail("schema", "envelope is not an object");
  if (envelope["v"] !== WIRE_VERSION) return fail("version", `envelope version ${String(envelope["v"])}`);
  if (envelope["cluster"] !== cluster) return fail("cluster", "another cluster");
  const keys = Object.keys(envelope);
  if (keys.length !== 3 || !("msg" in envelope)) return fail("schema", "envelope must hold exactly v, cluster, msg");
  return { ok: true, msg: envelope["msg"] };
}

/**
 * Why the subject disagrees with the body, or null when it agrees. The publisher's id in the
 * subject must be the id in the body that the publisher speaks for, so that NATS permissions on
 * subjects bind what a process may claim to be.
 */
function subjectMismatch(subjects: Subjects, subject: string, msg: Message): string | null {
  const parsed = subjects.parse(subject);
  if (parsed === null) return "not a subject of this cluster";
  switch (msg.type) {
    case "prepare":
    case "accept":
    case "heartbeat":
      if (parsed.publisherRole !== "proposer" || parsed.kind !== msg.type) return "wrong subject kind";
      return parsed.publisherId === msg.ballot.proposerId ? null : "ballot.proposerId differs from the subject";
    case "chosen":
      // Leaders announce chosen values and learners answer peers' catch-ups with them; the body
      // names no publisher, so only the kind is checked.
      if ((parsed.publisherRole !== "proposer" && parsed.publisherRole !== "learner") || parsed.kind !== "chosen") {
        return "wrong subject kind";
      }
      return null;
    case "promise":
    case "nack":
      if (parsed.publisherRole !== "acceptor" || parsed.kind !== msg.type) return "wrong subject kind";
      if (parsed.publisherId !== msg.acceptorId) return "acceptorId differs from the subject";
      return parsed.targetId === msg.ballot.proposerId ? null : "ballot.proposerId differs from the addressee";
    case "accepted":
      if (parsed.publisherRole !== "acceptor" || parsed.kind !== "accepted") return "wrong subject kind";
      if (parsed.publisherId !== msg.acceptorId) return "acceptorId differs from the subject";
      return parsed.targetId === msg.ballot.proposerId ? null : "ballot.proposerId differs from the addressee";
    case "catchupReply":
      if (parsed.publisherRole !== "acceptor" || parsed.kind !== "catchupReply") return "wrong subject kind";
      if (parsed.publisherId !== msg.acceptorId) return "acceptorId differs from the subject";
      return parsed.targetId === msg.learnerId ? null : "learnerId differs from the addressee";
    case "catchup":
      if (parsed.publisherRole !== "learner" || parsed.kind !== "catchup") return "wrong subject kind";
      return parsed.publisherId === msg.learnerId ? null : "learnerId differs from the subject";
    case "propose":
      if (parsed.kind !== "propose") return "wrong subject kind";
      return parsed.targetId === msg.proposerId ? null : "proposerId differs from the addressee";
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function firstIssue(issues: readonly { readonly path: readonly PropertyKey[]; readonly message: string }[]): string {
  const issue = issues[0];
  if (issue === undefined) return "invalid";
  const path = issue.path.map(String).join(".");
  return path === "" ? issue.message : `${path}: ${issue.message}`;
}

function fail(reason: DecodeFailureReason, detail: string): DecodeFailure {
  return { ok: false, reason, detail };
}
