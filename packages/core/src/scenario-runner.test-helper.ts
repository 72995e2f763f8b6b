/*
 * Test-only: runs a scenario transcript (packages/core/testdata/*.txt) against real Acceptor,
 * Proposer and Learner instances wired by a tiny network that holds every message until the
 * transcript delivers, drops or duplicates it. Named *.test-helper.ts so vitest does not collect
 * it; scenario.test.ts reads the files and calls runScenario.
 *
 * The language, one command a line (`#` starts a comment; "double quotes" and [brackets] keep
 * spaces inside one word):
 *
 *   limits <name>=<n> ...                 override DEFAULT_LIMITS (before `cluster`)
 *   cluster acceptors=a1,a2,a3 proposers=p1,p2 learners=l1
 *                                         every node starts at t=0; random() is 0 until `random`
 *   random <proposer> <r>                 the proposer's random() returns r from now on
 *   tick <node>... [at=<ms>]              move the clock to <ms> (never back), then tick each node
 *   propose <proposer> <requestId> <json> hand a client request to the proposer
 *   deliver <pattern>                     deliver the oldest held message that matches
 *   deliver-all <pattern>                 deliver every matching message held now (replies wait)
 *   drop <pattern> | drop-all <pattern>   lose the oldest matching message, or all of them
 *   duplicate <pattern>                   the network copies the oldest matching message
 *   crash <node>                          the node stops; messages delivered to it are lost
 *   restart <node>                        an acceptor from its disk, a learner from its stored log
 *   expect role <proposer> <follower|candidate|leader> [ballot=B] [leader=<id>|none]
 *   expect promised <acceptor> ballot=B
 *   expect accepted <acceptor> slot=N (ballot=B value=V | none)
 *   expect writes <acceptor> count=N      writes to its disk since the start
 *   expect learned <learner> slot=N (value=V | none)
 *   expect delivered <learner> (index=I slot=N request=R | none)   checks the next delivery
 *   expect duplicate <learner> index=I slot=N request=<id>          checks the next delivery
 *   expect rejected <proposer> request=<id> reason=<reason> [hint=<id>|none]
 *   expect held <pattern> count=N         how many held messages match
 *   expect status <node> <field>=<n> ...  proposer: chosenBelow inflightSlots pendingRequests;
 *                                         learner: nextSlot nextIndex gapSlots
 *
 * A <pattern> is `<type>|* [<from>|* -> <to>|*] [<field>=<text> ...]`, where a field is one the
 * message shows in error listings (slot, ballot, value, promised, fromSlot, ...). Ballots read
 * `round.proposerId` (`zero` for none); values read `noop` or `id:json,id:json`.
 */
import { Acceptor, type AcceptorState } from "./acceptor.ts";
import { type Ballot, ballotKey, compareBallots, ZERO_BALLOT } from "./ballot.ts";
import { DEFAULT_LIMITS, type Limits } from "./limits.ts";
import { type Delivery, Learner } from "./learner.ts";
import { type AcceptedEntry, destinationOf, type Message } from "./messages.ts";
import { Proposer, type ProposerRole, type Rejection } from "./proposer.ts";
import type { ClientRequest, JsonValue, SlotValue } from "./value.ts";

/** A transcript failed: the message names the file, line and command, and expected vs actual. */
export class ScenarioError extends Error {
  override readonly name = "ScenarioError";
}

/** Runs one transcript; throws ScenarioError (with the role's error as cause) at the first failure. */
export function runScenario(fileName: string, text: string): void {
  const runner = new Runner();
  text.split("\n").forEach((source, i) => {
    try {
      const tokens = tokenize(source);
      if (tokens.length > 0) runner.run(tokens);
    } catch (error) {
      const detail = error instanceof CommandError ? error.message : `${String(error)}`;
      throw new ScenarioError(`${fileName}:${i + 1}: ${source.trim()}\n  ${detail}`, { cause: error });
    }
  });
}

/** A failure of one command; runScenario adds the line. */
class CommandError extends Error {}

function fail(message: string): never {
  throw new CommandError(message);
}

function mismatch(what: string, expected: string, actual: string): never {
  fail(`${what}\n  expected: ${expected}\n  actual:   ${actual}`);
}

/**
 * Splits a line into words. "Double quotes" and [brackets] keep spaces and `#` inside one word; a
 * `#` at the start of a word starts a comment.
 */
function tokenize(line: string): string[] {
  const tokens: string[] = [];
  let current = "";
  let quoted = false;
  let depth = 0;
  for (let i = 0; i < line.length; i++) {
    const c = line.charAt(i);
    if (quoted) {
      current += c;
      if (c === "\\") current += line.charAt(++i);
      else if (c === '"') quoted = false;
    } else if (c === '"') {
      current += c;
      quoted = true;
    } else if (c === "#" && current === "") {
      break;
    } else if (/\s/.test(c) && depth === 0) {
      if (current !== "") tokens.push(current);
      current = "";
    } else {
      if (c === "[") depth++;
      if (c === "]") depth--;
      current += c;
    }
  }
  if (quoted) fail("unterminated quote");
  if (depth !== 0) fail("unbalanced [ ]");
  if (current !== "") tokens.push(current);
  return tokens;
}

/** Positional words and `key=value` options of a command, with each option read at most once. */
class Args {
  readonly positional: string[] = [];
  readonly #options = new Map<string, string>();

  constructor(tokens: readonly string[]) {
    for (const token of tokens) {
      const eq = token.indexOf("=");
      if (eq > 0 && !token.startsWith('"')) this.#options.set(token.slice(0, eq), token.slice(eq + 1));
      else this.positional.push(token);
    }
  }

  option(key: string): string | undefined {
    const value = this.#options.get(key);
    this.#options.delete(key);
    return value;
  }

  required(key: string): string {
    return this.option(key) ?? fail(`missing ${key}=`);
  }

  number(key: string): number | undefined {
    const text = this.option(key);
    if (text === undefined) return undefined;
    const n = Number(text);
    if (!Number.isSafeInteger(n) || n < 0) fail(`${key}=${text} is not a non-negative integer`);
    return n;
  }

  /** The options not read yet, for a pattern's field filters. */
  rest(): [string, string][] {
    const rest = [...this.#options];
    this.#options.clear();
    return rest;
  }

  /** Fails on anything the command did not read. */
  done(positionalUsed: number): void {
    if (this.positional.length > positionalUsed) fail(`unexpected ${this.positional.slice(positionalUsed).join(" ")}`);
    if (this.#options.size > 0) fail(`unknown option ${[...this.#options.keys()].join(", ")}`);
  }
}

function formatBallot(ballot: Ballot): string {
  return compareBallots(ballot, ZERO_BALLOT) === 0 ? "zero" : ballotKey(ballot);
}

function formatRequest(request: ClientRequest): string {
  return `${request.id}:${JSON.stringify(request.payload)}`;
}

function formatValue(value: SlotValue): string {
  return value.kind === "noop" ? "noop" : value.requests.map(formatRequest).join(",");
}

function formatEntries(entries: readonly AcceptedEntry[]): string {
  return `[${entries.map((e) => `${e.slot}@${formatBallot(e.ballot)}=${formatValue(e.value)}`).join(" ")}]`;
}

/** The fields a message shows and can be matched by (sender and receiver ids are in the envelope). */
function fieldsOf(msg: Message): Record<string, string> {
  switch (msg.type) {
    case "prepare":
      return { ballot: formatBallot(msg.ballot), fromSlot: String(msg.fromSlot) };
    case "promise":
      return { ballot: formatBallot(msg.ballot), accepted: formatEntries(msg.accepted) };
    case "accept":
    case "accepted":
      return { ballot: formatBallot(msg.ballot), slot: String(msg.slot), value: formatValue(msg.value) };
    case "nack":
      return { ballot: formatBallot(msg.ballot), promised: formatBallot(msg.promised) };
    case "chosen":
      return { slot: String(msg.slot), value: formatValue(msg.value) };
    case "heartbeat":
      return { ballot: formatBallot(msg.ballot), nextSlot: String(msg.nextSlot), chosenBelow: String(msg.chosenBelow) };
    case "catchup":
      return { fromSlot: String(msg.fromSlot), toSlot: String(msg.toSlot) };
    case "catchupReply":
      return { fromSlot: String(msg.fromSlot), toSlot: String(msg.toSlot), accepted: formatEntries(msg.accepted) };
    case "propose":
      return { request: formatRequest(msg.request) };
  }
}

interface Envelope {
  readonly from: string;
  readonly to: string;
  readonly msg: Message;
}

function formatEnvelope(e: Envelope): string {
  const fields = Object.entries(fieldsOf(e.msg)).map(([key, text]) => `${key}=${text}`);
  return [e.msg.type, e.from, "->", e.to, ...fields].join(" ");
}

interface Pattern {
  readonly type: string;
  readonly from: string;
  readonly to: string;
  readonly fields: readonly [string, string][];
}

/** Reads `<type> [<from> -> <to>]` from the positional words and field filters from the options. */
function readPattern(args: Args): Pattern {
  const [type, from, arrow, to] = args.positional;
  if (type === undefined) fail("missing message type (or *)");
  if (args.positional.length !== 1 && args.positional.length !== 4) fail("expected <type> [<from> -> <to>]");
  if (from === undefined) return { type, from: "*", to: "*", fields: args.rest() };
  if (arrow !== "->" || to === undefined) fail("expected <type> <from> -> <to>");
  return { type, from, to, fields: args.rest() };
}

function matches(p: Pattern, e: Envelope): boolean {
  if (p.type !== "*" && p.type !== e.msg.type) return false;
  if (p.from !== "*" && p.from !== e.from) return false;
  if (p.to !== "*" && p.to !== e.to) return false;
  const fields = fieldsOf(e.msg);
  return p.fields.every(([key, text]) => fields[key] === text);
}

interface AcceptorNode {
  live: Acceptor | null;
  /** What its stable storage holds: every write applied as the AcceptorStore contract says. */
  disk: { promised: Ballot; accepted: Map<number, AcceptedEntry>; chosenBelow: number };
  /** Writes applied to the disk since the cluster started. */
  writes: number;
}

interface ProposerNode {
  live: Proposer | null;
  randomValue: number;
  readonly rejected: Rejection[];
}

interface LearnerNode {
  live: Learner | null;
  /** Its stored log: slot → learned value. */
  readonly disk: Map<number, SlotValue>;
  readonly deliveries: Delivery[];
  /** Deliveries checked so far by `expect delivered|duplicate`. */
  checked: number;
}

class Runner {
  #limits: Limits = DEFAULT_LIMITS;
  #nowMs = 0;
  #acceptorIds: string[] = [];
  #proposerIds: string[] = [];
  #learnerIds: string[] = [];
  readonly #acceptors = new Map<string, AcceptorNode>();
  readonly #proposers = new Map<string, ProposerNode>();
  readonly #learners = new Map<string, LearnerNode>();
  #held: Envelope[] = [];

  run(tokens: string[]): void {
    const [verb = "", ...rest] = tokens;
    if (verb !== "limits" && verb !== "cluster" && this.#acceptorIds.length === 0) fail("no cluster yet");
    const args = new Args(rest);
    switch (verb) {
      case "limits":
        return this.#setLimits(args);
      case "cluster":
        return this.#cluster(args);
      case "random":
        return this.#random(args);
      case "tick":
        return this.#tick(args);
      case "propose":
        return this.#propose(rest);
      case "deliver":
      case "deliver-all":
      case "drop":
      case "drop-all":
      case "duplicate":
        return this.#network(verb, args);
      case "crash":
        return this.#crash(args);
      case "restart":
        return this.#restart(args);
      case "expect":
        return this.#expect(rest);
      default:
        fail(`unknown command ${verb}`);
    }
  }

  #setLimits(args: Args): void {
    if (this.#acceptorIds.length > 0) fail("limits must come before cluster");
    const limits: Record<string, number> = { ...this.#limits };
    for (const [key, text] of args.rest()) {
      if (!(key in limits)) fail(`unknown limit ${key}`);
      const n = Number(text);
      if (!Number.isSafeInteger(n) || n < 0) fail(`${key}=${text} is not a non-negative integer`);
      limits[key] = n;
    }
    args.done(0);
    this.#limits = limits as unknown as Limits;
  }

  #cluster(args: Args): void {
    if (this.#acceptorIds.length > 0) fail("cluster given twice");
    const list = (key: string): string[] => args.option(key)?.split(",") ?? [];
    this.#acceptorIds = list("acceptors");
    this.#proposerIds = list("proposers");
    this.#learnerIds = list("learners");
    args.done(0);
    const all = [...this.#acceptorIds, ...this.#proposerIds, ...this.#learnerIds];
    if (this.#acceptorIds.length === 0) fail("acceptors= is required");
    if (new Set(all).size !== all.length) fail("node ids must be distinct");
    for (const id of this.#acceptorIds) {
      const disk = { promised: ZERO_BALLOT, accepted: new Map<number, AcceptedEntry>(), chosenBelow: 0 };
      this.#acceptors.set(id, { live: new Acceptor(id, restoreFrom(disk)), disk, writes: 0 });
    }
    for (const id of this.#proposerIds) {
      const node: ProposerNode = { live: null, randomValue: 0, rejected: [] };
      node.live = new Proposer({
        proposerId: id,
        acceptorIds: this.#acceptorIds,
        limits: this.#limits,
        random: () => node.randomValue,
        nowMs: this.#nowMs,
      });
      this.#proposers.set(id, node);
    }
    for (const id of this.#learnerIds) {
      this.#learners.set(id, { live: this.#newLearner(id, []), disk: new Map(), deliveries: [], checked: 0 });
    }
  }

  #newLearner(id: string, restored: [number, SlotValue][]): Learner {
    return new Learner({ learnerId: id, acceptorIds: this.#acceptorIds, limits: this.#limits }, restored, this.#nowMs);
  }

  #random(args: Args): void {
    const [id = "", text = ""] = args.positional;
    const r = Number(text);
    if (!(r >= 0 && r < 1)) fail(`random must be in [0, 1), got ${text}`);
    args.done(2);
    this.#proposer(id).randomValue = r;
  }

  #tick(args: Args): void {
    const at = args.number("at");
    args.done(args.positional.length);
    if (args.positional.length === 0) fail("tick which node?");
    if (at !== undefined) {
      if (at < this.#nowMs) fail(`the clock cannot go back from ${this.#nowMs} to ${at}`);
      this.#nowMs = at;
    }
    for (const id of args.positional) {
      const proposer = this.#proposers.get(id);
      if (proposer !== undefined) this.#afterProposer(id, this.#liveProposer(id).tick(this.#nowMs));
      else if (this.#learners.has(id)) this.#afterLearner(id, this.#liveLearner(id).tick(this.#nowMs));
      else fail(`${id} is not a proposer or learner (acceptors have no timers)`);
    }
  }

  #propose(rest: string[]): void {
    const [id = "", requestId = "", ...json] = rest;
    if (requestId === "" || json.length === 0) fail("usage: propose <proposer> <requestId> <json>");
    let payload: JsonValue;
    try {
      payload = JSON.parse(json.join(" ")) as JsonValue;
    } catch {
      fail(`not JSON: ${json.join(" ")}`);
    }
    this.#afterProposer(id, this.#liveProposer(id).propose({ id: requestId, payload }, this.#nowMs));
  }

  #network(verb: string, args: Args): void {
    const pattern = readPattern(args);
    args.done(args.positional.length);
    const picked = this.#held.filter((e) => matches(pattern, e));
    if (picked.length === 0) fail(`no held message matches\n  held:\n${this.#listHeld()}`);
    const chosen = verb.endsWith("-all") ? picked : picked.slice(0, 1);
    if (verb === "duplicate") {
      this.#held.push(...chosen.map((e) => ({ ...e })));
      return;
    }
    this.#held = this.#held.filter((e) => !chosen.includes(e));
    if (verb.startsWith("deliver")) for (const e of chosen) this.#deliver(e);
  }

  #listHeld(): string {
    if (this.#held.length === 0) return "    (none)";
    return this.#held.map((e) => `    ${formatEnvelope(e)}`).join("\n");
  }

  #deliver(e: Envelope): void {
    const acceptor = this.#acceptors.get(e.to);
    if (acceptor !== undefined) {
      if (acceptor.live === null) return; // lost: the acceptor is down
      const step = acceptor.live.receive(e.msg, this.#nowMs);
      if (step.persist !== null) {
        // The AcceptorStore contract: the promise never decreases; an accept is stored with it.
        const { promised, accept } = step.persist;
        if (compareBallots(promised, acceptor.disk.promised) < 0) {
          fail(
            `${e.to} asked to write promise ${formatBallot(promised)} below ${formatBallot(acceptor.disk.promised)}`,
          );
        }
        acceptor.disk.promised = promised;
        acceptor.writes++;
        if (accept !== null) acceptor.disk.accepted.set(accept.slot, accept);
        acceptor.disk.chosenBelow = Math.max(acceptor.disk.chosenBelow, step.persist.chosenBelow);
      }
      this.#checkDiskMatchesMemory(e.to, acceptor);
      this.#send(e.to, step.send);
      return;
    }
    const proposer = this.#proposers.get(e.to);
    if (proposer !== undefined) {
      if (proposer.live !== null) this.#afterProposer(e.to, proposer.live.receive(e.msg, this.#nowMs));
      return;
    }
    const learner = this.#learners.get(e.to);
    if (learner?.live != null) this.#afterLearner(e.to, learner.live.receive(e.msg, this.#nowMs));
  }

  /** A reply may only depend on what is on disk: after each step, memory and disk must agree. */
  #checkDiskMatchesMemory(id: string, node: AcceptorNode): void {
    if (node.live === null) return;
    const memory = node.live.state;
    const show = (s: AcceptorState): string =>
      `promised=${formatBallot(s.promised)} chosenBelow=${s.chosenBelow} accepted=${formatEntries([...s.accepted.values()].sort((a, b) => a.slot - b.slot))}`;
    if (show(memory) !== show(node.disk))
      mismatch(`${id}: memory differs from disk after a step`, show(memory), show(node.disk));
  }

  #afterProposer(id: string, step: ReturnType<Proposer["tick"]>): void {
    this.#proposer(id).rejected.push(...step.rejected);
    this.#send(id, step.send);
  }

  #afterLearner(id: string, step: ReturnType<Learner["tick"]>): void {
    const node = this.#learner(id);
    for (const { slot, value } of step.learned) node.disk.set(slot, value);
    node.deliveries.push(...step.delivered);
    this.#send(id, step.send);
  }

  /** Addresses each message by its type, as the Transport port does; a sender does not hear itself. */
  #send(from: string, messages: readonly Message[]): void {
    for (const msg of messages) {
      const destination = destinationOf(msg);
      let to: string[];
      switch (destination.to) {
        case "acceptors":
          to = this.#acceptorIds;
          break;
        case "proposer":
          to = [destination.proposerId];
          break;
        case "learner":
          to = [destination.learnerId];
          break;
        case "proposersAndLearners":
          to = [...this.#proposerIds, ...this.#learnerIds];
          break;
        case "acceptorsAndLearners":
          to = [...this.#acceptorIds, ...this.#learnerIds];
          break;
        case "everyone":
          to = [...this.#acceptorIds, ...this.#proposerIds, ...this.#learnerIds];
          break;
      }
      for (const id of to) if (id !== from) this.#held.push({ from, to: id, msg });
    }
  }

  #crash(args: Args): void {
    const [id = ""] = args.positional;
    args.done(1);
    const acceptor = this.#acceptors.get(id);
    if (acceptor !== undefined) acceptor.live = null;
    else if (this.#proposers.has(id)) this.#proposer(id).live = null;
    else this.#learner(id).live = null;
  }

  #restart(args: Args): void {
    const [id = ""] = args.positional;
    args.done(1);
    const acceptor = this.#acceptors.get(id);
    if (acceptor !== undefined) {
      if (acceptor.live !== null) fail(`${id} is running; crash it first`);
      acceptor.live = new Acceptor(id, restoreFrom(acceptor.disk));
      return;
    }
    if (this.#proposers.has(id)) fail("a proposer keeps no state: a restart is a new proposer with a new nonce");
    const learner = this.#learner(id);
    if (learner.live !== null) fail(`${id} is running; crash it first`);
    learner.live = this.#newLearner(
      id,
      [...learner.disk].sort(([a], [b]) => a - b),
    );
  }

  #expect(tokens: string[]): void {
    const [what = "", ...rest] = tokens;
    const args = new Args(rest);
    switch (what) {
      case "role":
        return this.#expectRole(args);
      case "promised": {
        const [id = ""] = args.positional;
        const expected = args.required("ballot");
        args.done(1);
        const acceptor = this.#acceptor(id);
        const actual = formatBallot(acceptor.live?.promised ?? acceptor.disk.promised);
        if (actual !== expected) mismatch(`${id} promised`, expected, actual);
        return;
      }
      case "accepted":
        return this.#expectAccepted(args);
      case "writes": {
        const [id = ""] = args.positional;
        const expected = args.number("count") ?? fail("missing count=");
        args.done(1);
        const actual = this.#acceptor(id).writes;
        if (actual !== expected) mismatch(`${id}'s writes to disk`, String(expected), String(actual));
        return;
      }
      case "learned": {
        const [id = "", none] = args.positional;
        const slot = args.number("slot") ?? fail("missing slot=");
        const expected = none === "none" ? "none" : args.required("value");
        args.done(none === "none" ? 2 : 1);
        const value = this.#learner(id).disk.get(slot);
        const actual = value === undefined ? "none" : formatValue(value);
        if (actual !== expected) mismatch(`${id} learned in slot ${slot}`, expected, actual);
        return;
      }
      case "delivered":
      case "duplicate":
        return this.#expectDelivery(what, args);
      case "rejected":
        return this.#expectRejected(args);
      case "held": {
        const expected = args.number("count") ?? fail("missing count=");
        const pattern = readPattern(args);
        args.done(args.positional.length);
        const actual = this.#held.filter((e) => matches(pattern, e)).length;
        if (actual !== expected)
          fail(
            `held messages that match\n  expected: ${expected}\n  actual:   ${actual}\n  held:\n${this.#listHeld()}`,
          );
        return;
      }
      case "status":
        return this.#expectStatus(args);
      default:
        fail(`unknown expectation ${what}`);
    }
  }

  #expectRole(args: Args): void {
    const [id = "", role = ""] = args.positional;
    const ballot = args.option("ballot");
    const leader = args.option("leader");
    args.done(2);
    if (!["follower", "candidate", "leader"].includes(role)) fail(`unknown role ${role}`);
    const proposer = this.#liveProposer(id);
    const actual: ProposerRole = proposer.role;
    if (actual !== role) mismatch(`${id} role`, role, actual);
    if (ballot !== undefined && formatBallot(proposer.ballot) !== ballot) {
      mismatch(`${id} ballot`, ballot, formatBallot(proposer.ballot));
    }
    if (leader !== undefined && (proposer.leaderId ?? "none") !== leader) {
      mismatch(`${id} believes the leader is`, leader, proposer.leaderId ?? "none");
    }
  }

  #expectAccepted(args: Args): void {
    const [id = "", none] = args.positional;
    const slot = args.number("slot") ?? fail("missing slot=");
    const acceptor = this.#acceptor(id);
    const entry = (acceptor.live?.state.accepted ?? acceptor.disk.accepted).get(slot);
    const actual =
      entry === undefined ? "none" : `ballot=${formatBallot(entry.ballot)} value=${formatValue(entry.value)}`;
    const expected = none === "none" ? "none" : `ballot=${args.required("ballot")} value=${args.required("value")}`;
    args.done(none === "none" ? 2 : 1);
    if (actual !== expected) mismatch(`${id} accepted in slot ${slot}`, expected, actual);
  }

  #expectDelivery(kind: "delivered" | "duplicate", args: Args): void {
    const [id = "", none] = args.positional;
    const node = this.#learner(id);
    const next = node.deliveries[node.checked];
    const show = (d: Delivery | undefined): string => {
      if (d === undefined) return "none";
      const request = d.kind === "delivered" ? formatRequest(d.request) : d.requestId;
      return `${d.kind} index=${d.index} slot=${d.slot} request=${request}`;
    };
    if (none === "none") {
      args.done(2);
      if (kind !== "delivered") fail("use: expect delivered <learner> none");
      if (next !== undefined) mismatch(`${id}'s next delivery`, "none", show(next));
      return;
    }
    const expected = `${kind} index=${args.required("index")} slot=${args.required("slot")} request=${args.required("request")}`;
    args.done(1);
    if (show(next) !== expected) mismatch(`${id}'s next delivery`, expected, show(next));
    node.checked++;
  }

  #expectRejected(args: Args): void {
    const [id = ""] = args.positional;
    const requestId = args.required("request");
    const reason = args.required("reason");
    const hint = args.option("hint");
    args.done(1);
    const rejections = this.#proposer(id).rejected.filter((r) => r.requestId === requestId);
    const last = rejections.at(-1);
    const show = (r: Rejection | undefined, withHint: boolean): string =>
      r === undefined ? "none" : `${r.reason}${withHint ? ` hint=${r.leaderHint ?? "none"}` : ""}`;
    const expected = `${reason}${hint === undefined ? "" : ` hint=${hint}`}`;
    const actual = show(last, hint !== undefined);
    if (actual !== expected) mismatch(`${id}'s last rejection of ${requestId}`, expected, actual);
  }

  #expectStatus(args: Args): void {
    const [id = ""] = args.positional;
    let status: Record<string, number>;
    if (this.#proposers.has(id)) {
      const proposer = this.#liveProposer(id);
      status = { chosenBelow: proposer.chosenBelow, ...proposer.load };
    } else {
      const learner = this.#liveLearner(id);
      status = { nextSlot: learner.nextSlot, nextIndex: learner.nextIndex, gapSlots: learner.gapSlots };
    }
    const expected = args.rest();
    args.done(1);
    if (expected.length === 0) fail("expect status of which fields?");
    for (const [key, text] of expected) {
      const actual = status[key];
      if (actual === undefined) fail(`${id} has no status field ${key} (it has ${Object.keys(status).join(", ")})`);
      if (String(actual) !== text) mismatch(`${id} ${key}`, text, String(actual));
    }
  }

  #acceptor(id: string): AcceptorNode {
    return this.#acceptors.get(id) ?? fail(`${id} is not an acceptor`);
  }

  #proposer(id: string): ProposerNode {
    return this.#proposers.get(id) ?? fail(`${id} is not a proposer`);
  }

  #liveProposer(id: string): Proposer {
    return this.#proposer(id).live ?? fail(`${id} has crashed`);
  }

  #learner(id: string): LearnerNode {
    return this.#learners.get(id) ?? fail(`${id} is not a node of the cluster`);
  }

  #liveLearner(id: string): Learner {
    return this.#learner(id).live ?? fail(`${id} has crashed`);
  }
}

/** A copy of a disk image, so the restored acceptor cannot change the disk behind the runner's back. */
function restoreFrom(disk: AcceptorNode["disk"]): AcceptorState {
  return { promised: disk.promised, accepted: new Map(disk.accepted), chosenBelow: disk.chosenBelow };
}
