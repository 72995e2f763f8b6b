// The permission file binds every process to its own subjects (packages/transport-nats/src/
// permissions.ts). On a real nats-server started with ClusterCredentials for one cluster, every
// identity publishes on every kind of subject of the cluster (and on inboxes and on another
// cluster's subjects) while a test-only observer that may read everything records what got
// through; then every identity subscribes to each of those subjects and the observer publishes.
// Both outcomes must equal the table below, written by hand from what each role does, not from
// rolePermissions. Then the cases that matter most, one at a time: an acceptor reads neither
// another acceptor's promises nor anyone's replies, a gateway cannot read another gateway's
// replies, a learner may answer a gateway's query but not write into its inbox at will, and
// nobody connects without the right password. "Nothing arrived" is always bounded by a positive
// control on the same connection, so a silent failure cannot pass.
import { ClusterCredentials, inboxPrefix, NatsBus, type NatsBusStatus } from "@paxos/transport-nats";
import { type BusSubscription, clusterUser, type ClusterRole, Subjects } from "@paxos/wire";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type NatsServer, startNats } from "./support/nats-server.ts";
import { testObserver } from "./support/test-credentials.ts";

const s = new Subjects("perm");
const other = new Subjects("other");

/** The identities of the cluster: two acceptors, a proposer, a learner and two gateways. */
const IDENTITIES = {
  a1: { role: "acceptor", id: "a1" },
  a2: { role: "acceptor", id: "a2" },
  p1: { role: "proposer", id: "p1" },
  l1: { role: "learner", id: "l1" },
  g1: { role: "gateway", id: "g1" },
  g2: { role: "gateway", id: "g2" },
} as const satisfies Record<string, { role: ClusterRole; id: string }>;
type Who = keyof typeof IDENTITIES;
const WHO = Object.keys(IDENTITIES) as Who[];
const ACCEPTORS: readonly Who[] = ["a1", "a2"];
const GATEWAYS: readonly Who[] = ["g1", "g2"];
const EVERYONE: readonly Who[] = WHO;
const NOBODY: readonly Who[] = [];

const G1_INBOX = inboxPrefix(clusterUser("gateway", "g1"));

/** One subject, who may publish it and who may subscribe to it. */
interface Row {
  readonly subject: string;
  readonly publish: readonly Who[];
  readonly subscribe: readonly Who[];
}

/**
 * What may happen on each subject: who may publish it and who may subscribe to it, from each
 * role's job. Proposers prepare, accept, announce chosen values and heartbeat; acceptors answer
 * only under their own id; learners catch up, answer chosen and deliver under their own id;
 * gateways propose and query learners, and read statuses, deliveries and heartbeats. Nobody
 * writes into an inbox (replies go by allow_responses), only a gateway reads its own, and
 * nobody touches another cluster.
 */
const TABLE: readonly Row[] = [
  { subject: s.proposer("p1", "prepare"), publish: ["p1"], subscribe: ACCEPTORS },
  { subject: s.proposer("p1", "accept"), publish: ["p1"], subscribe: ACCEPTORS },
  { subject: s.proposer("p1", "chosen"), publish: ["p1"], subscribe: ["p1", "l1"] },
  { subject: s.proposer("p1", "heartbeat"), publish: ["p1"], subscribe: EVERYONE },
  ...(["a1", "a2"] as const).flatMap((a): Row[] => [
    { subject: s.promise(a, "p1"), publish: [a], subscribe: ["p1"] },
    { subject: s.nack(a, "p1"), publish: [a], subscribe: ["p1"] },
    { subject: s.accepted(a, "p1"), publish: [a], subscribe: ["p1", "l1"] },
    { subject: s.catchupReply(a, "l1"), publish: [a], subscribe: ["l1"] },
    { subject: s.status(a), publish: [a], subscribe: GATEWAYS },
  ]),
  { subject: s.learner("l1", "catchup"), publish: ["l1"], subscribe: [...ACCEPTORS, "l1"] },
  { subject: s.learner("l1", "chosen"), publish: ["l1"], subscribe: ["l1"] },
  { subject: s.learner("l1", "delivered"), publish: ["l1"], subscribe: GATEWAYS },
  { subject: s.propose("p1"), publish: GATEWAYS, subscribe: ["p1"] },
  { subject: s.learnersQuery(), publish: GATEWAYS, subscribe: ["l1"] },
  { subject: "_INBOX.test", publish: NOBODY, subscribe: NOBODY },
  { subject: `${G1_INBOX}.test`, publish: NOBODY, subscribe: ["g1"] },
  { subject: other.proposer("p1", "prepare"), publish: NOBODY, subscribe: NOBODY },
  { subject: other.accepted("a1", "p1"), publish: NOBODY, subscribe: NOBODY },
  { subject: other.learner("l1", "delivered"), publish: NOBODY, subscribe: NOBODY },
  { subject: other.propose("p1"), publish: NOBODY, subscribe: NOBODY },
];

/** The wait for "nothing arrived" once every connection is flushed and a control has arrived. */
const QUIET_MS = 200;

/** One test connection with what it heard: the server's asynchronous errors and refused subscriptions. */
interface Client {
  readonly bus: NatsBus;
  readonly errors: Error[];
  readonly refused: string[];
}

const credentials = new ClusterCredentials(s, Object.values(IDENTITIES));
const observerUser = testObserver();
let server: NatsServer;
let observer: Client;
const clients = new Map<Who, Client>();
const client = (who: Who): Client => {
  const found = clients.get(who);
  if (found === undefined) throw new Error(`no client ${who}`);
  return found;
};

async function connect(name: string, user: { user: string; password: string }): Promise<Client> {
  const errors: Error[] = [];
  const refused: string[] = [];
  const bus = await NatsBus.connect({
    servers: server.url,
    name,
    credentials: user,
    onStatus: (status: NatsBusStatus) => {
      if (status.type === "error") errors.push(status.error);
    },
    // A subscription the server refuses ends with an error to its handler: record it.
    onHandlerError: (_error, subject) => refused.push(subject),
  });
  return { bus, errors, refused };
}

/** Resolves once `condition` holds, polling; rejects after `timeoutMs`. */
async function waitFor(what: string, condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Flushes every connection, then waits QUIET_MS: what has not arrived by then is not coming. */
async function settle(): Promise<void> {
  await Promise.all([observer, ...clients.values()].map((c) => c.bus.flush()));
  await new Promise((resolve) => setTimeout(resolve, QUIET_MS));
}

const text = (data: Uint8Array): string => new TextDecoder().decode(data);
const bytes = (value: string): Uint8Array => new TextEncoder().encode(value);

/** A matrix as `subject → who → allowed`, for one exact comparison. */
type Matrix = Record<string, Record<Who, boolean>>;

function matrixOf(allowed: (row: Row, who: Who) => boolean): Matrix {
  return Object.fromEntries(
    TABLE.map((row) => [
      row.subject,
      Object.fromEntries(WHO.map((who) => [who, allowed(row, who)])) as Record<Who, boolean>,
    ]),
  );
}

function markdown(publish: Matrix, subscribe: Matrix): string {
  const cell = (subject: string, who: Who): string => {
    const parts = [publish[subject]?.[who] === true ? ["pub"] : [], subscribe[subject]?.[who] === true ? ["sub"] : []];
    const allowed = parts.flat();
    return allowed.length === 0 ? "—" : allowed.join(" ");
  };
  const header = `| subject | ${WHO.map((who) => `${IDENTITIES[who].role} ${who}`).join(" | ")} |`;
  const rule = `|---|${WHO.map(() => "---").join("|")}|`;
  const rows = TABLE.map(({ subject }) => `| \`${subject}\` | ${WHO.map((who) => cell(subject, who)).join(" | ")} |`);
  return [header, rule, ...rows].join("\n");
}

beforeAll(async () => {
  server = await startNats({ credentials, extraUsers: [observerUser] });
  observer = await connect("observer", { user: observerUser.user, password: observerUser.password });
  for (const who of WHO) {
    const { role, id } = IDENTITIES[who];
    clients.set(who, await connect(`${role}-${id}`, credentials.of(role, id)));
  }
});

afterAll(async () => {
  for (const c of clients.values()) await c.bus.close();
  await observer?.bus.close();
  await server?.stop();
});

describe("the permission matrix", () => {
  const seen: { publish: Matrix | null; subscribe: Matrix | null } = { publish: null, subscribe: null };

  afterAll(() => {
    if (seen.publish !== null && seen.subscribe !== null) {
      console.log(`NATS permissions as the server enforced them:\n${markdown(seen.publish, seen.subscribe)}`);
    }
  });

  it("lets each identity publish exactly on its role's subjects", async () => {
    const heard = new Set<string>();
    const watching = observer.bus.subscribe(">", (m) => heard.add(`${text(m.data)} on ${m.subject}`));
    try {
      await observer.bus.flush();
      for (const who of WHO) {
        const { bus } = client(who);
        for (const { subject } of TABLE) bus.publish(subject, bytes(who));
        // The control: a subject the identity may publish, sent after all the others. One
        // publisher's messages reach a subscriber in order, so once it is there, the rest would be.
        const own = TABLE.find((row) => row.publish.includes(who));
        if (own === undefined) throw new Error(`${who} may publish nothing`);
        bus.publish(own.subject, bytes(`${who} control`));
      }
      await waitFor("every identity's control at the observer", () =>
        WHO.every((who) => [...heard].some((line) => line.startsWith(`${who} control on `))),
      );
      await settle();

      const actual = matrixOf(({ subject }, who) => heard.has(`${who} on ${subject}`));
      seen.publish = actual;
      expect(actual).toEqual(matrixOf((row, who) => row.publish.includes(who)));
      // The server said no to each refused publish, so nothing was merely lost.
      for (const who of WHO) {
        const refused = client(who)
          .errors.splice(0)
          .map((error) => (error as Error & { subject?: string }).subject ?? error.message);
        expect(refused.sort(), who).toEqual(
          TABLE.filter((row) => !row.publish.includes(who))
            .map((row) => row.subject)
            .sort(),
        );
      }
    } finally {
      watching.unsubscribe();
    }
  });

  it("lets each identity subscribe exactly to its role's subjects", async () => {
    const control = s.proposer("control", "heartbeat");
    const heard = new Set<string>();
    const subscriptions = WHO.flatMap((who) =>
      [...TABLE.map((row) => row.subject), control].map((subject) =>
        client(who).bus.subscribe(subject, (m) => heard.add(`${who} got ${text(m.data)} on ${m.subject}`)),
      ),
    );
    try {
      await Promise.all(WHO.map((who) => client(who).bus.flush()));
      for (const { subject } of TABLE) observer.bus.publish(subject, bytes("observed"));
      // Every identity may hear heartbeats; the observer sends this one last, after all the others.
      observer.bus.publish(control, bytes("control"));
      await waitFor("the control at every identity", () =>
        WHO.every((who) => heard.has(`${who} got control on ${control}`)),
      );
      await settle();

      const actual = matrixOf(({ subject }, who) => heard.has(`${who} got observed on ${subject}`));
      seen.subscribe = actual;
      expect(actual).toEqual(matrixOf((row, who) => row.subscribe.includes(who)));
      // The server refused each subscription that heard nothing, rather than the message being lost.
      for (const who of WHO) {
        expect(client(who).refused.splice(0).sort(), who).toEqual(
          TABLE.filter((row) => !row.subscribe.includes(who))
            .map((row) => row.subject)
            .sort(),
        );
        client(who).errors.splice(0);
      }
    } finally {
      for (const subscription of subscriptions) subscription.unsubscribe();
    }
  });
});

describe("the cases one by one", () => {
  /** What each case subscribed to, unsubscribed after it. */
  const subscriptions: BusSubscription[] = [];
  const listen = (who: Who, subject: string, into: string[]): void => {
    subscriptions.push(client(who).bus.subscribe(subject, (m) => into.push(`${text(m.data)} on ${m.subject}`)));
  };

  afterEach(() => {
    for (const subscription of subscriptions.splice(0)) subscription.unsubscribe();
  });

  /** Serves learner queries on l1 with a fixed answer; `answered` says whether each reply went out. */
  function serveQueries(): { answered: boolean[] } {
    const answered: boolean[] = [];
    subscriptions.push(
      client("l1").bus.subscribe(s.learnersQuery(), (m) => {
        answered.push(m.respond(bytes(`answer to ${text(m.data)}`)));
      }),
    );
    return { answered };
  }

  it("keeps an acceptor from reading another acceptor's promises and anyone's replies", async () => {
    const a1 = client("a1");
    const stolen: string[] = [];
    const forbidden = [`${s.prefix}.acceptor.a2.promise.*`, "_INBOX.>", `${G1_INBOX}.>`];
    for (const subject of forbidden) listen("a1", subject, stolen);
    const prepares: string[] = [];
    listen("a1", s.allProposers("prepare"), prepares);
    const promises: string[] = [];
    listen("p1", s.promisesTo("p1"), promises);
    const queries = serveQueries();
    await Promise.all(["a1", "p1", "l1"].map((who) => client(who as Who).bus.flush()));

    client("a2").bus.publish(s.promise("a2", "p1"), bytes("a2's promise"));
    observer.bus.publish("_INBOX.anyone", bytes("a reply"));
    const reply = await client("g1").bus.request(s.learnersQuery(), bytes("g1"), { timeoutMs: 2_000 });
    client("p1").bus.publish(s.proposer("p1", "prepare"), bytes("control"));
    await waitFor("the control prepare at a1", () => prepares.length === 1);
    await waitFor("a2's promise at p1", () => promises.length === 1);
    await settle();

    expect(text(reply.data)).toBe("answer to g1");
    expect(queries.answered).toEqual([true]);
    expect(reply.subject.startsWith(`${G1_INBOX}.`)).toBe(true);
    expect(stolen).toEqual([]);
    expect(a1.refused.splice(0).sort()).toEqual([...forbidden].sort());
  });

  it("keeps a gateway from reading another gateway's replies", async () => {
    const g2 = client("g2");
    const stolen: string[] = [];
    listen("g2", `${G1_INBOX}.>`, stolen);
    const statuses: string[] = [];
    listen("g2", s.allStatus(), statuses);
    const queries = serveQueries();
    await Promise.all([g2.bus.flush(), client("l1").bus.flush()]);

    const reply = await client("g1").bus.request(s.learnersQuery(), bytes("g1"), { timeoutMs: 2_000 });
    client("a1").bus.publish(s.status("a1"), bytes("control"));
    await waitFor("the control status at g2", () => statuses.length === 1);
    await settle();

    expect(text(reply.data)).toBe("answer to g1");
    expect(queries.answered).toEqual([true]);
    expect(stolen).toEqual([]);
    expect(g2.refused.splice(0)).toEqual([`${G1_INBOX}.>`]);
  });

  it("lets a learner answer a gateway's query, but not publish into the gateway's inbox", async () => {
    const g1 = client("g1");
    const l1 = client("l1");
    const direct: string[] = [];
    listen("g1", `${G1_INBOX}.direct`, direct);
    const queries = serveQueries();
    await Promise.all([g1.bus.flush(), l1.bus.flush()]);
    l1.errors.splice(0);

    l1.bus.publish(`${G1_INBOX}.direct`, bytes("unasked"));
    // The answer leaves l1 after the unasked message: once it is at g1, so would the other be.
    const reply = await g1.bus.request(s.learnersQuery(), bytes("g1"), { timeoutMs: 2_000 });
    await settle();

    expect(text(reply.data)).toBe("answer to g1");
    expect(queries.answered).toEqual([true]);
    expect(direct).toEqual([]);
    expect(l1.errors.splice(0).map((error) => error.message)).toEqual([
      expect.stringMatching(/permissions violation for publish to "_INBOX_gateway-g1\.direct"/i) as string,
    ]);
  });

  it("refuses an anonymous client, a wrong password and another identity's password at connect", async () => {
    const attempt = (user?: { user: string; password: string }): Promise<unknown> =>
      NatsBus.connect({
        servers: server.url,
        name: "intruder",
        connectTimeoutMs: 2_000,
        ...(user === undefined ? {} : { credentials: user }),
      }).then(
        async (bus) => {
          await bus.close();
          return "connected";
        },
        (error: unknown) => String(error),
      );
    const a1 = credentials.of("acceptor", "a1");
    const a2 = credentials.of("acceptor", "a2");
    const outcomes = {
      anonymous: await attempt(),
      wrongPassword: await attempt({ user: a1.user, password: `${a1.password}x` }),
      anotherPassword: await attempt({ user: a1.user, password: a2.password }),
      rightPassword: await attempt(a1),
    };
    expect(outcomes).toEqual({
      anonymous: expect.stringMatching(/authorization violation/i) as string,
      wrongPassword: expect.stringMatching(/authorization violation/i) as string,
      anotherPassword: expect.stringMatching(/authorization violation/i) as string,
      rightPassword: "connected",
    });
  });
});
