import type { Ballot } from "./ballot.ts";
import type { ClientRequest, SlotValue } from "./value.ts";

/** What an acceptor holds for one slot: the highest-ballot proposal it accepted there. */
export interface AcceptedEntry {
  readonly slot: number;
  readonly ballot: Ballot;
  readonly value: SlotValue;
}

/**
 * Phase 1a ("Paxos Made Simple", 2.2), once for every slot from `fromSlot` on (Multi-Paxos,
 * section 3): a leader prepares all open slots with one message. Sent to every acceptor.
 */
export interface PrepareMsg {
  readonly type: "prepare";
  readonly ballot: Ballot;
  readonly fromSlot: number;
}

/**
 * Phase 1b: the acceptor promises to accept nothing below `ballot`, and reports the proposals it
 * accepted in slots from the prepare's `fromSlot` on. Sent to the proposer that owns `ballot`.
 *
 * A promise is one message, so it reports a range: every accepted slot in [fromSlot, toSlot), or
 * from fromSlot on when `toSlot` is null. A candidate that gets a majority of promises knows the
 * revealed values below the lowest `toSlot` among them, and prepares again (same ballot) from
 * there: phase 1 in ranges, so no log, however long above the watermark, makes a promise too
 * large to send.
 */
export interface PromiseMsg {
  readonly type: "promise";
  readonly ballot: Ballot;
  readonly acceptorId: string;
  /** The `fromSlot` of the prepare this answers, so the candidate can tell ranges apart. */
  readonly fromSlot: number;
  /** The end of the reported range, or null when every slot from fromSlot on is reported. */
  readonly toSlot: number | null;
  /**
   * Every slot below this is chosen (a leader said so in an accept). The acceptor leaves those
   * slots out of `accepted`, and the new leader must not propose below it.
   */
  readonly chosenBelow: number;
  readonly accepted: readonly AcceptedEntry[];
}

/**
 * Phase 2a: the leader asks acceptors to accept `value` in `slot` at `ballot`. Sent to every
 * acceptor.
 */
export interface AcceptMsg {
  readonly type: "accept";
  readonly ballot: Ballot;
  readonly slot: number;
  readonly value: SlotValue;
  /** The leader's knowledge: every slot below this is chosen. Acceptors keep it as a watermark. */
  readonly chosenBelow: number;
}

/**
 * Phase 2b: the acceptor accepted `value` in `slot` at `ballot`. Sent to every proposer and
 * learner; learners count these to learn a chosen value ("Paxos Made Simple", 2.3).
 */
export interface AcceptedMsg {
  readonly type: "accepted";
  readonly ballot: Ballot;
  readonly slot: number;
  readonly value: SlotValue;
  readonly acceptorId: string;
}

/**
 * The acceptor refused `ballot` (a prepare or an accept) because it promised `promised`, which is
 * higher. An optimisation the paper suggests (2.2, end): the proposer stops and jumps above it.
 * Sent to the proposer that owns `ballot`.
 */
export interface NackMsg {
  readonly type: "nack";
  readonly ballot: Ballot;
  readonly promised: Ballot;
  readonly acceptorId: string;
}

/**
 * The leader counted a majority of accepted messages for `slot` at one ballot: `value` is chosen.
 * Sent to learners and proposers; the leader acts as the "distinguished learner" of "Paxos Made
 * Simple", 2.3. Learners also send it to answer a peer's catch-up.
 */
export interface ChosenMsg {
  readonly type: "chosen";
  readonly slot: number;
  readonly value: SlotValue;
}

/**
 * The leader is alive at `ballot`. `nextSlot` is the first slot it has not assigned;
 * `chosenBelow` says every slot below it is chosen. Sent to every role: followers and acceptors
 * learn that a leader is alive (acceptors then ignore other proposers' prepares), learners
 * learn the watermark.
 */
export interface HeartbeatMsg {
  readonly type: "heartbeat";
  readonly ballot: Ballot;
  readonly nextSlot: number;
  readonly chosenBelow: number;
}

/**
 * A learner asks for slots [fromSlot, toSlot) that it has not learned. Acceptors answer with a
 * CatchupReplyMsg, peer learners with ChosenMsgs. Sent to acceptors and learners.
 */
export interface CatchupMsg {
  readonly type: "catchup";
  readonly learnerId: string;
  readonly fromSlot: number;
  readonly toSlot: number;
  /** The learner's `chosenBelow` when it asked: slots below it were chosen before any answer. */
  readonly chosenBelow: number;
}

/**
 * An acceptor's answer to a catch-up: what it holds, at the time of answering, in the asked slots
 * [fromSlot, toSlot); a slot missing from `accepted` holds nothing. The learner counts the entries
 * like accepted messages, and for slots it knows to be chosen it may also take the
 * highest-ballot value from a majority of answers (see Learner). Sent to the learner `learnerId`.
 */
export interface CatchupReplyMsg {
  readonly type: "catchupReply";
  readonly learnerId: string;
  readonly acceptorId: string;
  readonly fromSlot: number;
  readonly toSlot: number;
  /** Echoed from the CatchupMsg this answers. */
  readonly chosenBelow: number;
  readonly accepted: readonly AcceptedEntry[];
}

/** A client request for the proposer `proposerId` (normally the leader). */
export interface ProposeMsg {
  readonly type: "propose";
  readonly proposerId: string;
  readonly request: ClientRequest;
}

/** Every message the roles exchange. */
export type Message =
  | PrepareMsg
  | PromiseMsg
  | AcceptMsg
  | AcceptedMsg
  | NackMsg
  | ChosenMsg
  | HeartbeatMsg
  | CatchupMsg
  | CatchupReplyMsg
  | ProposeMsg;

/** The role a message is addressed to. Hosts route by it; the wire maps it to NATS subjects. */
export type Destination =
  | { readonly to: "acceptors" }
  | { readonly to: "proposer"; readonly proposerId: string }
  | { readonly to: "proposersAndLearners" }
  | { readonly to: "learner"; readonly learnerId: string }
  | { readonly to: "acceptorsAndLearners" }
  | { readonly to: "everyone" };

/** Where a message goes, decided by its type alone: the roles never address peers by hand. */
export function destinationOf(msg: Message): Destination {
  switch (msg.type) {
    case "prepare":
    case "accept":
      return { to: "acceptors" };
    case "promise":
    case "nack":
      return { to: "proposer", proposerId: msg.ballot.proposerId };
    case "accepted":
    case "chosen":
      return { to: "proposersAndLearners" };
    case "heartbeat":
      return { to: "everyone" };
    case "catchup":
      return { to: "acceptorsAndLearners" };
    case "catchupReply":
      return { to: "learner", learnerId: msg.learnerId };
    case "propose":
      return { to: "proposer", proposerId: msg.proposerId };
  }
}
