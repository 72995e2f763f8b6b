// Hostile messages against real processes (issue 10, item 6): one cluster of real service
// processes (3 acceptors on 3 redis-servers, 2 proposers, 1 learner) on a real nats-server with
// the permission file. Attackers hold stolen credentials of cluster roles, the strongest attacker
// the permission file still admits, and send garbage, wrong schemas, other clusters, forged ids,
// far-future ballots, out-of-range slots, conflicting values, replays, floods of duplicates and
// amplification attempts. Each case checks the exact drop reason each receiving process counts
// (/metrics), that no process stops (/healthz), that memory stays bounded (VmRSS), that nothing
// forged reaches the log, and that the cluster still decides a real proposal afterwards. A
// test-only observer that reads every subject captures real traffic to replay and is the
// positive control of every "nothing arrived".
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AcceptedMsg, AcceptMsg, Ballot, Message, SlotValue } from "@paxos/core";
import { NatsBus } from "@paxos/transport-nats";
import { BusError, encode, type LogEntryWire, proposeBatch, queryLearners, Subjects } from "@paxos/wire";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type NatsServer, startNats } from "../support/nats-server.ts";
import { type RedisServer, startRedis } from "../support/redis-server.ts";
import { testCredentials, testObserver } from "../support/test-credentials.ts";
import {
  type Attacker,
  connectAttacker,
  dropCounts,
  healthz,
  hostilePayloads,
  type Observed,
  Observer,
  parseMessage,
  reasonCounts,
  rise,
  rssBytes,
  type Sample,
  sampleValue,
  scrape,
} from "./support/hostile.ts";
import { eventually, killAll } from "./support/processes.ts";
import {
  ACCEPTOR_IDS,
  type ServiceEnv,
  type ServiceProcess,
  startAcceptor,
  startLearner,
  startProposer,
  TestClient,
  waitReady,
} from "./support/services.ts";

const CLUSTER = "hostile";
const s = new Subjects(CLUSTER);

/*
 * The bounds these cases hold the processes to, as issue 10 states them (they are
 * DEFAULT_LIMITS today). Written out rather than read from @paxos/core, so that a bound raised
 * there shows here as a failure, not as a test that moves with it.
 */
const SLOTS_AHEAD_MAX = 1_024;
const ROUNDS_AHEAD_MAX = 2 ** 32;
const ROUND_MAX = 2 ** 52;
const CATCHUP_SLOTS_MAX = 16;
const CATCHUP_BYTES_PER_SECOND_MAX = 8_000_000;
const MESSAGE_BYTES_MAX = 1_000_000;
/** nats-server's default max_payload (1 MiB): what NATS itself refuses. */
const NATS_MAX_PAYLOAD = 1_048_576;
/** Catch-up requests in one amplification burst, and the window the issue measures them over. */
const BURST_REQUESTS = 200;
const BURST_WINDOW_MS = 3_000;
/** How much a process's resident memory may grow across one flood. */
const RSS_GROWTH_MAX_BYTES = 64 * 1024 * 1024;
/**
 * The same across a catch-up burst: an acceptor builds tens of megabytes of answers within seconds
 * (a learner reads as much), garbage that the heap holds until it is collected. The bound is
 * looser but still far below what buffering an unbounded burst (200 MB and more) would take.
 */
const AMPLIFIED_RSS_GROWTH_MAX_BYTES = 192 * 1024 * 1024;

/** A proposer id the attacker makes up (proposers share their subjects, so NATS lets it). */
const FORGED_PROPOSER = "hostile-x";
const LOW_BALLOT: Ballot = { round: 1, proposerId: FORGED_PROPOSER };

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
/** `counts` with every count 0: what a process that never saw those messages counts. */
const zeroed = (counts: Record<string, number>): Record<string, number> =>
  Object.fromEntries(Object.keys(counts).map((reason) => [reason, 0]));
const forgedValue = (id: string): SlotValue => ({ kind: "batch", requests: [{ id, payload: `forged ${id}` }] });

describe("hostile messages against real processes", () => {
  let nats: NatsServer;
  let where: ServiceEnv;
  let observer: Observer;
  let client: TestClient;
  let dataDir: string;
  const redis = new Map<string, RedisServer>();
  const acceptors = new Map<string, ServiceProcess>();
  let proposers: ServiceProcess[] = [];
  let learner: ServiceProcess;
  /** The next log index a real proposal must get: forged values never take one. */
  let nextIndex = 0;
  const summary: { case: string; process: string; counted: string }[] = [];

  const acceptorList = (): ServiceProcess[] => [...acceptors.values()];
  const everyone = (): ServiceProcess[] => [...acceptorList(), ...proposers, learner];
  const acceptor = (id: string): ServiceProcess => {
    const found = acceptors.get(id);
    if (found === undefined) throw new Error(`no acceptor ${id}`);
    return found;
  };
  const redisOf = (id: string): RedisServer => {
    const found = redis.get(id);
    if (found === undefined) throw new Error(`no redis for ${id}`);
    return found;
  };
  const note = (name: string, process: string, counted: string): void => {
    summary.push({ case: name, process, counted });
  };

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), "paxos-hostile-"));
    const credentials = testCredentials(CLUSTER);
    const observerUser = testObserver();
    const [natsServer, ...redisServers] = await Promise.all([
      startNats({ credentials, extraUsers: [observerUser] }),
      ...ACCEPTOR_IDS.map(() => startRedis()),
    ]);
    nats = natsServer;
    where = { cluster: CLUSTER, natsUrl: nats.url, credentials };
    ACCEPTOR_IDS.forEach((id, i) => {
      const server = redisServers[i];
      if (server !== undefined) redis.set(id, server);
    });
    // Watching from before the first election, so the winning prepare is captured too.
    observer = await Observer.connect(nats.url, observerUser, CLUSTER);
    const started = await Promise.all([
      ...ACCEPTOR_IDS.map((id) => startAcceptor(where, id, redisOf(id).url, true)),
      startLearner(where, "l1", join(dataDir, "learner-l1")),
      startProposer(where, "p1"),
      startProposer(where, "p2"),
    ]);
    ACCEPTOR_IDS.forEach((id, i) => {
      const service = started[i];
      if (service !== undefined) acceptors.set(id, service);
    });
    const [first, ...rest] = started.slice(ACCEPTOR_IDS.length);
    if (first === undefined) throw new Error("no learner");
    learner = first;
    proposers = rest.filter((p) => p !== undefined);
    client = await TestClient.connect(where);
    await Promise.all([...acceptorList(), learner].map((service) => waitReady(service, 30_000)));
    await decides("warm-up");
  }, 90_000);

  afterAll(async () => {
    if (summary.length > 0) {
      const width = (key: "case" | "process"): number => Math.max(...summary.map((row) => row[key].length));
      const [caseWidth, processWidth] = [width("case"), width("process")];
      const lines = summary.map(
        (row) => `${row.case.padEnd(caseWidth)} | ${row.process.padEnd(processWidth)} | ${row.counted}`,
      );
      console.log(`hostile messages: what each process counted\n${lines.join("\n")}`);
    }
    await client?.close();
    await observer?.close();
    await killAll();
    for (const server of redis.values()) await server.stop();
    await nats?.stop();
    if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true });
  });

  /** Proposes a fresh value and expects it at the next index: the cluster still decides. */
  async function decides(tag: string): Promise<number> {
    const index = await client.proposeAndWait(proposers, `${tag}-${nextIndex}`, `real value ${tag}`, 20_000);
    expect(index, `${tag}: the next real proposal's index`).toBe(nextIndex);
    nextIndex++;
    return index;
  }

  /** Every service still runs: not exited, /healthz 200. */
  async function expectAlive(): Promise<void> {
    for (const service of everyone()) {
      expect(service.done, `${service.name} exited:\n${service.lines.slice(-20).join("\n")}`).toBe(false);
      expect(await healthz(service), `${service.name} /healthz`).toBe(200);
    }
  }

  async function dropsOfAll(): Promise<Map<ServiceProcess, Record<string, number>>> {
    const counts = new Map<ServiceProcess, Record<string, number>>();
    for (const service of everyone()) counts.set(service, await dropCounts(service));
    return counts;
  }

  /**
   * Waits until every listed service counted at least the listed drops since `before`, then
   * (once later messages had time to arrive) expects exactly those counts for those reasons, and
   * records what every service counted in the summary.
   */
  async function expectCounted(
    name: string,
    before: Map<ServiceProcess, Record<string, number>>,
    expected: readonly (readonly [ServiceProcess, Record<string, number>])[],
  ): Promise<void> {
    const risen = async (service: ServiceProcess): Promise<Record<string, number>> =>
      rise(before.get(service) ?? {}, await dropCounts(service));
    await eventually(
      async () => {
        for (const [service, want] of expected) {
          const got = await risen(service);
          if (Object.entries(want).some(([reason, n]) => (got[reason] ?? 0) < n)) return false;
        }
        return true;
      },
      20_000,
      `${name}: the drops to be counted`,
    ).catch(() => undefined); // the exact comparison below says what is missing
    await sleep(300);
    for (const [service, want] of expected) {
      const got = await risen(service);
      const picked = Object.fromEntries(Object.keys(want).map((reason) => [reason, got[reason] ?? 0]));
      expect(picked, `${name}: what ${service.name} counted (all: ${JSON.stringify(got)})`).toEqual(want);
    }
    for (const service of everyone()) {
      const got = await risen(service);
      const text = Object.entries(got)
        .map(([reason, n]) => `${reason} ${n}`)
        .join(", ");
      if (text !== "") note(name, service.name, text);
    }
  }

  async function learnerStatus(): Promise<{ nextIndex: number; nextSlot: number; gapSlots: number }> {
    const [status] = await queryLearners(client.bus, client.subjects, { op: "status" }, 500, { maxReplies: 1 });
    if (status?.op !== "status") throw new Error("no status answer from the learner");
    return status;
  }

  /** The learner's whole log (this file's logs stay far below one range answer). */
  async function logEntries(): Promise<readonly LogEntryWire[]> {
    const [range] = await queryLearners(client.bus, client.subjects, { op: "range", from: 0, limit: 1_000 }, 500, {
      maxReplies: 1,
    });
    if (range?.op !== "range") throw new Error("no range answer from the learner");
    return range.entries;
  }

  async function lookup(requestId: string): Promise<LogEntryWire | null> {
    const [answer] = await queryLearners(client.bus, client.subjects, { op: "lookup", requestId }, 500, {
      maxReplies: 1,
    });
    if (answer?.op !== "lookup") throw new Error("no lookup answer from the learner");
    return answer.entry;
  }

  /** The leader's last accept, as the observer saw it: its ballot, slot and chosen watermark. */
  function lastAccept(): { subject: string; data: Uint8Array; msg: AcceptMsg } {
    const seen = observer.lastAccept;
    const msg = seen === null ? null : parseMessage(seen.data);
    if (seen === null || msg?.type !== "accept") throw new Error("the observer saw no accept");
    return { subject: seen.subject, data: seen.data, msg };
  }

  async function promisedRound(service: ServiceProcess): Promise<number> {
    return sampleValue(await scrape(service), "paxos_acceptor_promised_round");
  }

  function rssOfAll(): Map<ServiceProcess, number> {
    return new Map(everyone().map((service) => [service, rssBytes(service.pid)]));
  }

  /** Expects no service's RSS to have grown by `maxBytes` or more since `before`. */
  function expectRssBounded(
    name: string,
    before: Map<ServiceProcess, number>,
    maxBytes: number = RSS_GROWTH_MAX_BYTES,
  ): void {
    const growth = everyone().map((service) => ({
      service,
      mb: (rssBytes(service.pid) - (before.get(service) ?? 0)) / 2 ** 20,
    }));
    note(name, "RSS growth", growth.map(({ service, mb }) => `${service.name} ${mb.toFixed(1)} MB`).join(", "));
    for (const { service, mb } of growth) {
      expect(mb, `${name}: ${service.name} RSS growth in MB`).toBeLessThan(maxBytes / 2 ** 20);
    }
  }

  async function withAttacker<T>(
    role: "acceptor" | "proposer" | "learner",
    id: string,
    body: (attacker: Attacker) => Promise<T>,
  ): Promise<T> {
    const attacker = await connectAttacker(where, role, id);
    try {
      return await body(attacker);
    } finally {
      await attacker.close();
    }
  }

  it("1: drops garbage, deep nesting, oversized, other clusters and versions, unknown types and bad schemas", async () => {
    const name = "1 malformed";
    const prepare: Message = { type: "prepare", ballot: LOW_BALLOT, fromSlot: 0 };
    const accept: Message = { type: "accept", ballot: LOW_BALLOT, slot: 0, value: { kind: "noop" }, chosenBelow: 0 };
    const accepted: Message = {
      type: "accepted",
      ballot: LOW_BALLOT,
      slot: 0,
      value: { kind: "noop" },
      acceptorId: "a1",
    };
    const tooLarge = MESSAGE_BYTES_MAX + 40_000;
    expect(tooLarge).toBeLessThan(NATS_MAX_PAYLOAD - 1_000);
    const toAcceptors = [
      {
        subject: s.proposer(FORGED_PROPOSER, "prepare"),
        payloads: hostilePayloads(CLUSTER, prepare, { ...prepare, fromSlot: -1 }, tooLarge),
      },
      {
        subject: s.proposer(FORGED_PROPOSER, "accept"),
        payloads: hostilePayloads(CLUSTER, accept, { ...accept, slot: 1.5 }, tooLarge),
      },
    ];
    const toLearners = hostilePayloads(CLUSTER, accepted, { ...accepted, slot: "zero" }, tooLarge);
    const before = await dropsOfAll();

    await withAttacker("proposer", "test", async (asProposer) => {
      // Above max_payload NATS itself refuses: the client will not even send it.
      let refused: unknown = null;
      try {
        asProposer.bus.publish(s.proposer(FORGED_PROPOSER, "prepare"), new Uint8Array(NATS_MAX_PAYLOAD + 1));
      } catch (error) {
        refused = error;
      }
      expect(refused).toBeInstanceOf(BusError);
      expect(String(refused)).toMatch(/max_payload/);
      // The same connection goes on: what follows is counted below (the positive control).
      for (const { subject, payloads } of toAcceptors) {
        for (const payload of payloads) await asProposer.send(subject, payload.data);
      }
      expect(asProposer.violations).toEqual([]);
    });
    // Votes go to the learners and to the proposer whose ballot they name: here the leader.
    const leader = await client.leaderOf(proposers, 10_000);
    await withAttacker("acceptor", "a1", async (asA1) => {
      for (const payload of toLearners) await asA1.send(s.accepted("a1", leader.id), payload.data);
      expect(asA1.violations).toEqual([]);
    });

    const perAcceptor = reasonCounts(toAcceptors.flatMap(({ payloads }) => payloads));
    const perLearner = reasonCounts(toLearners);
    expect(perAcceptor).toEqual({
      badJson: 6,
      tooDeep: 2,
      tooLarge: 2,
      cluster: 2,
      version: 2,
      unknownType: 2,
      schema: 2,
    });
    await expectCounted(name, before, [
      ...acceptorList().map((a) => [a, perAcceptor] as const),
      [learner, perLearner],
      [leader.proposer, perLearner],
      // The follower subscribes to votes at its own ballots only: it never saw these.
      ...proposers.filter((p) => p !== leader.proposer).map((p) => [p, zeroed(perLearner)] as const),
    ]);
    await expectAlive();
    await decides("after-malformed");
  }, 60_000);

  it("2: drops forged ids: a body that names another sender, and NATS refuses another acceptor's subject", async () => {
    const name = "2 forged ids";
    const forged = (slot: number): AcceptedMsg => ({
      type: "accepted",
      ballot: LOW_BALLOT,
      slot,
      value: forgedValue(`forged-id-${slot}`),
      acceptorId: "a2",
    });
    const asA2OnA2 = encode(CLUSTER, forged(7_777));
    const before = await dropsOfAll();
    const onA2: Uint8Array[] = [];
    let controlSeen = false;
    const control = new TextEncoder().encode(`control ${Date.now()}`);
    const untap = observer.tap((m) => {
      if (m.subject === s.accepted("a2", FORGED_PROPOSER)) onA2.push(m.data);
      if (m.subject === s.accepted("a1", FORGED_PROPOSER) && Buffer.from(m.data).equals(Buffer.from(control))) {
        controlSeen = true;
      }
    });
    try {
      await withAttacker("acceptor", "a1", async (asA1) => {
        // As a1, claiming to be a2 on a1's own subject: the receivers compare body and subject.
        await asA1.send(s.accepted("a1", FORGED_PROPOSER), encode(CLUSTER, forged(7_776)));
        // On a2's subject, and on one of an acceptor nobody configured: the server refuses both.
        await asA1.send(s.accepted("a2", FORGED_PROPOSER), asA2OnA2);
        await asA1.send(s.accepted("a9", FORGED_PROPOSER), asA2OnA2);
        // Positive control on the same connection: NATS keeps one connection's order, so once this
        // arrived, the refused ones would have arrived before it.
        await asA1.send(s.accepted("a1", FORGED_PROPOSER), control);
        await eventually(() => controlSeen && asA1.violations.length >= 2, 5_000, "the control and two refusals");
        expect(asA1.violations.map((error) => error.name)).toEqual([
          "PermissionViolationError",
          "PermissionViolationError",
        ]);
        expect(asA1.violations.map((error) => error.message).join("\n")).toContain(s.accepted("a2", FORGED_PROPOSER));
        note(name, "nats-server", `refused ${asA1.violations.length} publishes of a1 (on a2's and a9's subjects)`);
      });
      await withAttacker("proposer", "test", async (asProposer) => {
        // A prepare whose ballot names another proposer than its subject.
        const prepare: Message = { type: "prepare", ballot: { round: 1, proposerId: "p9-other" }, fromSlot: 0 };
        await asProposer.send(s.proposer(FORGED_PROPOSER, "prepare"), encode(CLUSTER, prepare));
      });
    } finally {
      untap();
    }
    expect(onA2.some((data) => Buffer.from(data).equals(Buffer.from(asA2OnA2)))).toBe(false);
    await expectCounted(name, before, [
      ...acceptorList().map((a) => [a, { subjectMismatch: 1 }] as const),
      // The control is not JSON: counted as badJson where the forged body was a subjectMismatch.
      [learner, { subjectMismatch: 1, badJson: 1, unknownAcceptor: 0 }],
      // Votes at the forged proposer's ballot are addressed to it alone: the real proposers see none.
      ...proposers.map((p) => [p, { subjectMismatch: 0, badJson: 0, unknownAcceptor: 0 }] as const),
    ]);
    expect(await lookup("forged-id-7776")).toBeNull();
    await expectAlive();
    await decides("after-forged-ids");
  }, 60_000);

  it("3: drops far-future ballots without promising them, and keeps deciding", async () => {
    const name = "3 far ballots";
    const rounds = await Promise.all(acceptorList().map(promisedRound));
    const top = Math.max(...rounds);
    expect(top).toBeGreaterThan(0);
    const stored = await Promise.all(
      ACCEPTOR_IDS.map((id) => redisOf(id).cli("HGETALL", `paxos:{${CLUSTER}}:${id}:promised`)),
    );
    const statuses = ACCEPTOR_IDS.map((id) => client.statuses.get(id)?.promised);
    const far: Ballot = { round: top + 2 * ROUNDS_AHEAD_MAX, proposerId: FORGED_PROPOSER };
    const { msg: accept } = lastAccept();
    const before = await dropsOfAll();
    await withAttacker("proposer", "test", async (asProposer) => {
      const prepare = (ballot: Ballot): Uint8Array => encode(CLUSTER, { type: "prepare", ballot, fromSlot: 0 });
      await asProposer.send(s.proposer(FORGED_PROPOSER, "prepare"), prepare(far));
      await asProposer.send(
        s.proposer(FORGED_PROPOSER, "accept"),
        encode(CLUSTER, { ...accept, ballot: far, value: forgedValue("far-round") }),
      );
      // ROUND_MAX itself passes the schema, and is still far too far; above it the schema refuses.
      await asProposer.send(s.proposer(FORGED_PROPOSER, "prepare"), prepare({ ...far, round: ROUND_MAX }));
      await asProposer.send(s.proposer(FORGED_PROPOSER, "prepare"), prepare({ ...far, round: ROUND_MAX + 1 }));
      // A heartbeat of that far leader: the proposers refuse it (acceptors only ignore it).
      await asProposer.send(
        s.proposer(FORGED_PROPOSER, "heartbeat"),
        encode(CLUSTER, { type: "heartbeat", ballot: far, nextSlot: 0, chosenBelow: 0 }),
      );
    });
    await expectCounted(name, before, [
      ...acceptorList().map((a) => [a, { roundTooFar: 3, schema: 1 }] as const),
      ...proposers.map((p) => [p, { roundTooFar: 1 }] as const),
    ]);
    // Nothing was promised: not in memory (metric), not on disk (Redis), not in the status.
    expect(await Promise.all(acceptorList().map(promisedRound))).toEqual(rounds);
    expect(
      await Promise.all(ACCEPTOR_IDS.map((id) => redisOf(id).cli("HGETALL", `paxos:{${CLUSTER}}:${id}:promised`))),
    ).toEqual(stored);
    await sleep(1_200); // a status round
    expect(ACCEPTOR_IDS.map((id) => client.statuses.get(id)?.promised)).toEqual(statuses);
    expect(await lookup("far-round")).toBeNull();
    await expectAlive();
    await decides("after-far-ballots");
    // The real leader's ballot did not jump either.
    expect(Math.max(...(await Promise.all(acceptorList().map(promisedRound))))).toBeLessThan(top + 10);
  }, 60_000);

  /** What one catch-up burst made each acceptor do, as they count it and as the observer saw it. */
  interface BurstOutcome {
    readonly requestBytes: number;
    /** Bytes of the largest answer: a whole one, since every budget starts full. */
    readonly wholeBytes: number;
    readonly inWindowBytes: number;
    readonly totalBytes: number;
    readonly perAcceptor: ReadonlyMap<
      string,
      {
        readonly stepped: number;
        readonly overBudget: number;
        readonly answers: readonly number[];
        /** From the last poll before it stepped a request to the first poll after it stepped all. */
        readonly servedMs: number | null;
      }
    >;
  }

  /** The range of the 16 slots holding the big values (case 7a makes them), once made. */
  let bigRange: { fromSlot: number; toSlot: number } | null = null;

  /**
   * Sends `BURST_REQUESTS` catch-up requests for the big range as learner `requester` in one
   * burst, watches the answers on `acceptor.*.catchupReply.<requester>` and each acceptor's own
   * counters until every request was stepped and answered or refused.
   */
  async function catchupBurst(requester: string, onOtherTraffic?: (m: Observed) => void): Promise<BurstOutcome> {
    if (bigRange === null) throw new Error("no big range yet");
    const { fromSlot, toSlot } = bigRange;
    const { nextSlot } = await learnerStatus();
    await sleep(1_500); // every acceptor's budget for the requester is full (one second's worth)
    const stepped = (samples: readonly Sample[]): number =>
      sampleValue(samples, "paxos_acceptor_messages_total", { type: "catchup" });
    const overBudget = (samples: readonly Sample[]): number =>
      sampleValue(samples, "paxos_dropped_messages_total", { reason: "overBudget" });
    const before = new Map(
      await Promise.all(ACCEPTOR_IDS.map(async (id) => [id, await scrape(acceptor(id))] as const)),
    );
    const eventsBefore = observer.events.length;
    const answers = new Map<string, { sizes: number[]; inWindow: number }>(
      ACCEPTOR_IDS.map((id) => [id, { sizes: [], inWindow: 0 }]),
    );
    let burstMs = Number.POSITIVE_INFINITY;
    const unwatch = await observer.watch(s.catchupRepliesTo(requester), (m) => {
      const from = answers.get(s.parse(m.subject)?.publisherId ?? "");
      if (from === undefined) return;
      from.sizes.push(m.data.byteLength);
      if (m.atMs - burstMs <= BURST_WINDOW_MS) from.inWindow += m.data.byteLength;
    });
    const untap = onOtherTraffic === undefined ? () => undefined : observer.tap(onOtherTraffic);
    // When each acceptor served the burst, by its own counter.
    const served = new Map<string, { beforeMs: number; afterMs: number | null }>();
    const counted = new Map<string, { stepped: number; overBudget: number }>();
    const poll = async (): Promise<void> => {
      await Promise.all(
        ACCEPTOR_IDS.map(async (id) => {
          const askedMs = Date.now();
          const samples = await scrape(acceptor(id)).catch(() => null);
          if (samples === null) return; // no reading this time
          const was = before.get(id) ?? [];
          const n = stepped(samples) - stepped(was);
          counted.set(id, { stepped: n, overBudget: overBudget(samples) - overBudget(was) });
          const times = served.get(id) ?? { beforeMs: askedMs, afterMs: null };
          if (n === 0) times.beforeMs = askedMs;
          if (n >= BURST_REQUESTS && times.afterMs === null) times.afterMs = Date.now();
          served.set(id, times);
        }),
      );
    };
    let polling = true;
    const poller = (async () => {
      while (polling) {
        await poll();
        await sleep(50);
      }
    })();
    let requestBytes = 0;
    try {
      await withAttacker("learner", requester, async (attacker) => {
        const catchup = encode(CLUSTER, {
          type: "catchup",
          learnerId: requester,
          fromSlot,
          toSlot,
          chosenBelow: nextSlot,
        });
        requestBytes = catchup.byteLength;
        burstMs = Date.now();
        await attacker.flood(s.learner(requester, "catchup"), catchup, BURST_REQUESTS, BURST_REQUESTS);
        await sleep(BURST_WINDOW_MS - (Date.now() - burstMs));
      });
      // Every request stepped, and each one answered (seen here) or refused: an answer the
      // observer missed would make every byte count below meaningless.
      await eventually(
        () =>
          ACCEPTOR_IDS.every((id) => {
            const { stepped: n, overBudget: refused } = counted.get(id) ?? { stepped: 0, overBudget: 0 };
            return n >= BURST_REQUESTS && (answers.get(id)?.sizes.length ?? 0) + refused === n;
          }),
        45_000,
        "every catch-up request answered or refused",
      ).catch(() => undefined); // the expectations say which
    } finally {
      polling = false;
      await poller;
      untap();
      unwatch();
    }
    expect(observer.events.slice(eventsBefore), "the observer's connection (a slow consumer misses answers)").toEqual(
      [],
    );
    const all = [...answers.values()];
    return {
      requestBytes,
      wholeBytes: Math.max(...all.flatMap(({ sizes }) => sizes)),
      inWindowBytes: all.reduce((sum, { inWindow }) => sum + inWindow, 0),
      totalBytes: all.reduce((sum, { sizes }) => sum + sizes.reduce((a, b) => a + b, 0), 0),
      perAcceptor: new Map(
        ACCEPTOR_IDS.map((id) => {
          const times = served.get(id);
          return [
            id,
            {
              ...(counted.get(id) ?? { stepped: 0, overBudget: 0 }),
              answers: answers.get(id)?.sizes ?? [],
              servedMs: times === undefined || times.afterMs === null ? null : times.afterMs - times.beforeMs,
            },
          ];
        }),
      ),
    };
  }

  /**
   * Expects every acceptor to have answered or refused each request of the burst and to have
   * sent no more than its budget allows: one second's worth to start with, the refill for as long
   * as it served the burst, one message over. So only so many answers were whole; the others
   * were cut short or refused. Records the numbers in the summary.
   */
  function expectWithinBudget(name: string, burst: BurstOutcome): void {
    for (const [id, { stepped, overBudget, answers, servedMs }] of burst.perAcceptor) {
      expect(stepped, `${id}: catch-up requests stepped`).toBeGreaterThanOrEqual(BURST_REQUESTS);
      expect(answers.length + overBudget, `${id}: answered + refused`).toBe(stepped);
      expect(servedMs, `${id}: a poll after it served the burst`).not.toBeNull();
      const servedS = (servedMs ?? 0) / 1000;
      const budget = CATCHUP_BYTES_PER_SECOND_MAX * (1 + servedS) + MESSAGE_BYTES_MAX;
      const bytes = answers.reduce((a, b) => a + b, 0);
      expect(bytes, `${id}: bytes answered within ${servedMs} ms`).toBeLessThanOrEqual(budget);
      const whole = answers.filter((size) => size >= burst.wholeBytes * 0.95).length;
      expect(whole, `${id}: whole answers`).toBeLessThanOrEqual(Math.ceil(budget / burst.wholeBytes));
      note(
        name,
        acceptor(id).name,
        `overBudget ${overBudget}; answered ${answers.length} (${whole} whole, ${answers.length - whole} cut short), ${(bytes / 1e6).toFixed(1)} MB within ${servedMs} ms`,
      );
    }
    // The bound: what arrives within the window is within every acceptor's budget for
    // it, the first second's bucket included, one message of slack each.
    expect(burst.inWindowBytes, `bytes within ${BURST_WINDOW_MS} ms`).toBeLessThanOrEqual(
      ACCEPTOR_IDS.length * (CATCHUP_BYTES_PER_SECOND_MAX * (1 + BURST_WINDOW_MS / 1000) + MESSAGE_BYTES_MAX),
    );
    const unbounded = BURST_REQUESTS * ACCEPTOR_IDS.length * burst.wholeBytes;
    note(
      name,
      "observer",
      `${BURST_REQUESTS} requests of ${burst.requestBytes} B drew ${(burst.totalBytes / 1e6).toFixed(1)} MB (${(burst.inWindowBytes / 1e6).toFixed(1)} MB within ${BURST_WINDOW_MS} ms); unbounded ${(unbounded / 1e6).toFixed(0)} MB`,
    );
  }

  // Case 7 runs before 4 and 5: their votes far ahead leave the learner with a gap it keeps asking
  // acceptors about, and those catch-ups would mix with the burst's.
  it("7a: bounds what a burst of full catch-up requests as l1 makes the acceptors send, and l1 takes it", async () => {
    const name = "7a amplification as l1";
    // 32 values of ~15 KB, proposed at once, so most slots batch two: ~30 KB per slot.
    const { id: leaderId } = await client.leaderOf(proposers, 10_000);
    const startIndex = nextIndex;
    const ids = Array.from({ length: 32 }, (_, i) => `big-${i}`);
    const queued = await proposeBatch(
      client.bus,
      client.subjects,
      leaderId,
      ids.map((requestId, i) => ({ requestId, payload: `${i}:${"x".repeat(15_000)}` })),
      5_000,
    );
    expect(queued.map((reply) => reply.status)).toEqual(ids.map(() => "queued"));
    await eventually(async () => (await learnerStatus()).nextIndex >= startIndex + ids.length, 30_000, "big values");
    nextIndex += ids.length;
    const big = (await logEntries()).filter((entry) => entry.requestId.startsWith("big-"));
    expect(big).toHaveLength(ids.length);
    const fromSlot = Math.min(...big.map((entry) => entry.slot));
    bigRange = { fromSlot, toSlot: fromSlot + CATCHUP_SLOTS_MAX };
    const entriesBefore = await logEntries();

    const rss = rssOfAll();
    const burst = await catchupBurst("l1");
    // A whole answer holds the 16 big slots.
    expect(burst.wholeBytes).toBeGreaterThan(CATCHUP_SLOTS_MAX * 15_000);
    expectWithinBudget(name, burst);
    const events = (await scrape(learner)).filter((sample) => sample.name === "paxos_nats_events_total");
    note(
      name,
      learner.name,
      `kept running through the burst; its NATS events: ${JSON.stringify(events.map((e) => [e.labels["type"], e.value]))}`,
    );
    expect(await logEntries()).toEqual(entriesBefore);
    expectRssBounded(name, rss, AMPLIFIED_RSS_GROWTH_MAX_BYTES);
    await expectAlive();
    await decides("after-amplification-l1");
  }, 120_000);

  it("7b: bounds the same burst as l2, whose answers no learner process reads", async () => {
    // On a loaded 2-core machine the victim learner's own decoding in 7a can hold the acceptors
    // below their budget; here only the observer reads the answers, so the budget is what bounds
    // them. The running learner l1 answers l2 as a peer, within its own budget.
    const name = "7b amplification as l2";
    let chosenBytes = 0;
    const before = await dropCounts(learner);
    const rss = rssOfAll();
    const burst = await catchupBurst("l2", (m) => {
      if (m.subject === s.learner("l1", "chosen")) chosenBytes += m.data.byteLength;
    });
    expectWithinBudget(name, burst);
    const refusedAll = [...burst.perAcceptor.values()].every(({ overBudget }) => overBudget > 0);
    expect(refusedAll, "every acceptor refused some requests as overBudget").toBe(true);
    const learnerRefused = rise(before, await dropCounts(learner))["overBudget"] ?? 0;
    note(
      name,
      learner.name,
      `overBudget ${learnerRefused}; answered l2 with ${(chosenBytes / 1e6).toFixed(1)} MB of chosen`,
    );
    expect(learnerRefused, "l1 refused some of l2's requests as overBudget").toBeGreaterThan(0);
    expectRssBounded(name, rss, AMPLIFIED_RSS_GROWTH_MAX_BYTES);
    await expectAlive();
    await decides("after-amplification-l2");
  }, 120_000);

  it("4: drops out-of-range slots at acceptors and the learner, holding a bounded number of votes", async () => {
    const name = "4 far slots";
    const { msg: accept } = lastAccept();
    const watermark = accept.chosenBelow;
    const farSlots = [watermark + SLOTS_AHEAD_MAX, watermark + 1_000_000, watermark + 2 ** 40];
    const acceptedKey = (id: string): string => `paxos:{${CLUSTER}}:${id}:accepted`;
    const storedSlots = await Promise.all(ACCEPTOR_IDS.map((id) => redisOf(id).cli("HLEN", acceptedKey(id))));
    expect(storedSlots.map(Number).every((n) => n > 0)).toBe(true); // the keys we read are the real ones
    const { nextSlot } = await learnerStatus();
    // Dense from next + 50 (the real log's next slots stay clear) to next + 2050, then spread to
    // next + 10^6: 5,000 distinct slots, of which those below next + slotsAheadMax may be held.
    const voteSlots = [
      ...Array.from({ length: 2_000 }, (_, i) => nextSlot + 50 + i),
      ...Array.from({ length: 3_000 }, (_, i) => nextSlot + 2_050 + Math.floor((i * (1_000_000 - 2_050)) / 3_000)),
    ];
    expect(new Set(voteSlots).size).toBe(5_000);
    const holdable = voteSlots.filter((slot) => slot < nextSlot + SLOTS_AHEAD_MAX).length;
    const before = await dropsOfAll();
    const rss = rssOfAll();

    await withAttacker("proposer", "test", async (asProposer) => {
      for (const slot of farSlots) {
        const forged: AcceptMsg = { ...accept, slot, value: forgedValue(`far-slot-${slot}`) };
        await asProposer.send(lastAccept().subject, encode(CLUSTER, forged));
      }
    });
    await withAttacker("acceptor", "a1", async (asA1) => {
      for (const [i, slot] of voteSlots.entries()) {
        const vote: AcceptedMsg = {
          type: "accepted",
          ballot: LOW_BALLOT,
          slot,
          value: forgedValue(`vote-${slot}`),
          acceptorId: "a1",
        };
        asA1.bus.publish(s.accepted("a1", FORGED_PROPOSER), encode(CLUSTER, vote));
        if (i % 500 === 499) await asA1.bus.flush();
      }
      await asA1.bus.flush();
    });
    await expectCounted(name, before, [
      ...acceptorList().map((a) => [a, { slotTooFar: farSlots.length }] as const),
      [learner, { slotTooFar: voteSlots.length - holdable }],
    ]);
    // Nothing persisted: the acceptors' Redis holds the same slots, none of the far ones.
    expect(await Promise.all(ACCEPTOR_IDS.map((id) => redisOf(id).cli("HLEN", acceptedKey(id))))).toEqual(storedSlots);
    for (const id of ACCEPTOR_IDS) {
      for (const slot of farSlots) expect(await redisOf(id).cli("HEXISTS", acceptedKey(id), String(slot))).toBe("0");
    }
    const held = sampleValue(await scrape(learner), "paxos_learner_held_slots", { kind: "votes" });
    // The held votes name slots up to next + slotsAheadMax: the learner now sees a gap there and
    // asks acceptors about it every catch-up interval (bounded) until the log gets that far.
    const { gapSlots } = await learnerStatus();
    note(
      name,
      learner.name,
      `held votes ${held} of ${voteSlots.length} (bound ${SLOTS_AHEAD_MAX}); gapSlots ${gapSlots}`,
    );
    expect(held).toBeLessThanOrEqual(SLOTS_AHEAD_MAX);
    expect(held).toBeGreaterThanOrEqual(holdable); // the flood did arrive
    expectRssBounded(name, rss);
    await expectAlive();
    await decides("after-far-slots");
  }, 60_000);

  it("5: keeps what it holds against conflicting values, counting the conflicts", async () => {
    const name = "5 conflicts";
    const { subject: acceptSubject, msg: accept } = lastAccept();
    const { nextSlot } = await learnerStatus();
    const entriesBefore = await logEntries();
    const learned = entriesBefore[0];
    if (learned === undefined) throw new Error("nothing learned yet");
    const acceptedKey = (id: string): string => `paxos:{${CLUSTER}}:${id}:accepted`;
    const votedBefore = await Promise.all(
      ACCEPTOR_IDS.map((id) => redisOf(id).cli("HGET", acceptedKey(id), String(accept.slot))),
    );
    expect(votedBefore.every((vote) => vote.includes(accept.ballot.proposerId))).toBe(true);
    const before = await dropsOfAll();
    const openSlot = nextSlot + 1_010; // in range, far ahead of anything real in this file
    await withAttacker("acceptor", "a1", async (asA1) => {
      const vote = (slot: number, id: string): Uint8Array =>
        encode(CLUSTER, { type: "accepted", ballot: accept.ballot, slot, value: forgedValue(id), acceptorId: "a1" });
      // Two values from a1 at one ballot for a slot the learner has not learned: the second conflicts.
      const onA1 = s.accepted("a1", accept.ballot.proposerId);
      await asA1.send(onA1, vote(openSlot, "conflict-open-1"));
      await asA1.send(onA1, vote(openSlot, "conflict-open-2"));
      // A vote for a learned slot is a late vote, whatever it says: ignored, never learned.
      await asA1.send(onA1, vote(learned.slot, "conflict-learned-vote"));
    });
    await withAttacker("proposer", "test", async (asProposer) => {
      // A chosen value other than the learned one: a conflict at the learner.
      await asProposer.send(
        s.proposer(FORGED_PROPOSER, "chosen"),
        encode(CLUSTER, { type: "chosen", slot: learned.slot, value: forgedValue("conflict-chosen") }),
      );
      // The leader's own ballot, a slot every acceptor voted, another value: a conflict there.
      await asProposer.send(acceptSubject, encode(CLUSTER, { ...accept, value: forgedValue("conflict-accept") }));
    });
    await expectCounted(name, before, [
      ...acceptorList().map((a) => [a, { conflict: 1 }] as const),
      // The open slot's second value and the forged chosen. The vote for the learned slot is not
      // counted: a vote arriving after the choice may be a late one from a lower ballot, which is
      // legitimate, and the learner keeps no ballot for learned slots to tell them apart.
      [learner, { conflict: 2 }],
    ]);
    note(name, learner.name, "a1's vote for a learned slot with another value: ignored, not counted");
    // The acceptors kept their votes, on disk.
    expect(
      await Promise.all(ACCEPTOR_IDS.map((id) => redisOf(id).cli("HGET", acceptedKey(id), String(accept.slot)))),
    ).toEqual(votedBefore);
    // The learner serves what it learned, and none of the forged values.
    expect(await logEntries()).toEqual(entriesBefore);
    expect(await lookup(learned.requestId)).toEqual(learned); // lookups do find what is there
    for (const id of [
      "conflict-open-1",
      "conflict-open-2",
      "conflict-learned-vote",
      "conflict-chosen",
      "conflict-accept",
    ]) {
      expect(await lookup(id), id).toBeNull();
    }
    const [entry] = await queryLearners(client.bus, client.subjects, { op: "entry", index: learned.index }, 500, {
      maxReplies: 1,
    });
    expect(entry).toEqual({ op: "entry", entry: learned });
    await expectAlive();
    await decides("after-conflicts");
  }, 60_000);

  it("6: survives replays and floods of duplicates of real messages, delivering nothing twice", async () => {
    const name = "6 replays";
    const { subject: acceptSubject, data: acceptData, msg: accept } = lastAccept();
    const leaderBallot = accept.ballot;
    const prepare = observer.prepares.get(`${leaderBallot.round}.${leaderBallot.proposerId}`);
    if (prepare === undefined) throw new Error("the observer saw no prepare of the leader's ballot");
    const acceptedByA1 = observer.lastAccepted.get("a1");
    if (acceptedByA1 === undefined) throw new Error("the observer saw no accepted of a1");
    const copies = 2_000;
    const entriesBefore = await logEntries();
    const statusBefore = await learnerStatus();
    const deliveriesBefore = await scrape(learner);
    const stepped = async (): Promise<number[]> =>
      Promise.all(
        acceptorList().map(async (a) => {
          const samples = await scrape(a);
          return (
            sampleValue(samples, "paxos_acceptor_messages_total", { type: "prepare" }) +
            sampleValue(samples, "paxos_acceptor_messages_total", { type: "accept" })
          );
        }),
      );
    const steppedBefore = await stepped();
    const rss = rssOfAll();
    let delivered = 0;
    let promiseBytes = 0;
    const untap = observer.tap((m) => {
      if (m.subject === s.learner("l1", "delivered")) delivered++;
      if (m.subject.includes(".promise.")) promiseBytes += m.data.byteLength;
    });
    try {
      await withAttacker("proposer", "test", async (asProposer) => {
        await asProposer.flood(s.proposer(leaderBallot.proposerId, "prepare"), prepare, copies);
        await asProposer.flood(acceptSubject, acceptData, copies);
      });
      await withAttacker("acceptor", "a1", async (asA1) => {
        await asA1.flood(acceptedByA1.subject, acceptedByA1.data, copies);
      });
      // Every acceptor stepped every replayed prepare and accept (the positive control).
      await eventually(
        async () => (await stepped()).every((n, i) => n - (steppedBefore[i] ?? 0) >= 2 * copies),
        30_000,
        "the acceptors to step the replays",
      );
      await sleep(1_000);
    } finally {
      untap();
    }
    note(
      name,
      "observer",
      `${copies} prepares (${prepare.byteLength} B each) drew ${(promiseBytes / 1e6).toFixed(2)} MB of promises; ${delivered} deliveries`,
    );
    expect(delivered).toBe(0);
    expect(await logEntries()).toEqual(entriesBefore);
    expect(await learnerStatus()).toMatchObject({ nextIndex: statusBefore.nextIndex, nextSlot: statusBefore.nextSlot });
    const deliveriesAfter = await scrape(learner);
    for (const kind of ["delivered", "duplicate"]) {
      expect(sampleValue(deliveriesAfter, "paxos_learner_deliveries_total", { kind }), kind).toBe(
        sampleValue(deliveriesBefore, "paxos_learner_deliveries_total", { kind }),
      );
    }
    expectRssBounded(name, rss);
    await expectAlive();
    // Positive control: a real proposal is delivered exactly once.
    let controlDeliveries = 0;
    const untapControl = observer.tap((m) => {
      if (m.subject === s.learner("l1", "delivered")) controlDeliveries++;
    });
    try {
      await decides("after-replays");
      await sleep(500);
    } finally {
      untapControl();
    }
    expect(controlDeliveries).toBe(1);
  }, 90_000);

  it("8: refuses outsiders at connect: no credentials, or a wrong password", async () => {
    const name = "8 outsiders";
    const anonymous = NatsBus.connect({ servers: nats.url, name: "anonymous", connectTimeoutMs: 3_000 });
    await expect(anonymous).rejects.toThrow(/authorization/i);
    const { user } = where.credentials.of("acceptor", "a1");
    const wrong = NatsBus.connect({
      servers: nats.url,
      name: "wrong password",
      credentials: { user, password: "not-the-password" },
      connectTimeoutMs: 3_000,
    });
    await expect(wrong).rejects.toThrow(/authorization/i);
    // Positive control: the right password connects.
    const right = await connectAttacker(where, "acceptor", "a1");
    expect(right.bus.isConnected).toBe(true);
    await right.close();
    note(name, "nats-server", "refused an anonymous client and a wrong password at connect");
    await expectAlive();
  }, 30_000);
});
