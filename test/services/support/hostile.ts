// What the hostile-message tests need besides a cluster: attackers holding stolen credentials
// (whose refused publishes are recorded, not fatal), an observer that sees every subject, the
// malformed payloads each receiver must drop with one exact reason, and readings of what a
// service process counted (/metrics) and how much memory it holds (/proc/<pid>/status).
import { readFileSync } from "node:fs";
import type { Message } from "@paxos/core";
import { NatsBus, type NatsBusStatus } from "@paxos/transport-nats";
import { type BusMessage, type ClusterRole, encode, WIRE_VERSION } from "@paxos/wire";
import type { ServiceEnv, ServiceProcess } from "./services.ts";
import { getJson } from "./processes.ts";

/**
 * A client connected with the credentials of one cluster identity, as an insider who stole them
 * would be. The server's refusals (publishes outside the identity's permissions) arrive as
 * asynchronous errors and are kept in `violations` instead of failing the run, since provoking
 * them is the point.
 */
export interface Attacker {
  readonly bus: NatsBus;
  readonly violations: Error[];
  /** Publishes raw bytes on `subject` and flushes, so the server has them when it resolves. */
  send(subject: string, data: Uint8Array): Promise<void>;
  /** Publishes `data` `count` times, flushing every `batch`, then once more at the end. */
  flood(subject: string, data: Uint8Array, count: number, batch?: number): Promise<void>;
  close(): Promise<void>;
}

/** Connects as `role`/`id` with that identity's own credentials; see Attacker. */
export async function connectAttacker(where: ServiceEnv, role: ClusterRole, id: string): Promise<Attacker> {
  const violations: Error[] = [];
  const bus = await NatsBus.connect({
    servers: where.natsUrl,
    name: `attacker ${role} ${id}`,
    credentials: where.credentials.of(role, id),
    onStatus: (status: NatsBusStatus) => {
      if (status.type === "error") violations.push(status.error);
    },
  });
  return {
    bus,
    violations,
    send: async (subject, data) => {
      bus.publish(subject, data);
      await bus.flush();
    },
    flood: async (subject, data, count, batch = 500) => {
      for (let i = 0; i < count; i++) {
        bus.publish(subject, data);
        if ((i + 1) % batch === 0) await bus.flush();
      }
      await bus.flush();
    },
    close: () => bus.close(),
  };
}

/** One message the observer saw, with its arrival time. */
export interface Observed {
  readonly subject: string;
  readonly data: Uint8Array;
  readonly atMs: number;
}

/**
 * A test-only user that may read every subject (testObserver), subscribed to every subject of the
 * cluster from before the services start, except catch-up answers: those are the one kind that
 * carries megabytes, and a test that measures them watches them on its own (`watch`), so a busy
 * test process is not also handed every other learner's answers. It keeps the first prepare of
 * each ballot, the last accept and each acceptor's last accepted, so tests can replay real
 * traffic, and lets a test tap the stream for a while.
 */
export class Observer {
  readonly bus: NatsBus;
  /** Every prepare seen, by ballot (`round.proposerId`), first one kept. */
  readonly prepares = new Map<string, Uint8Array>();
  /** The last accept seen, and the last accepted of each acceptor. */
  lastAccept: Observed | null = null;
  readonly lastAccepted = new Map<string, Observed>();
  /** Connection events (disconnects, slow consumer, errors): while empty, nothing was missed. */
  readonly events: string[];
  readonly #prefix: string;
  readonly #taps = new Set<(m: Observed) => void>();

  private constructor(bus: NatsBus, prefix: string, events: string[]) {
    this.bus = bus;
    this.events = events;
    this.#prefix = prefix;
    const families = [
      "proposer.*.*",
      "acceptor.*.promise.*",
      "acceptor.*.nack.*",
      "acceptor.*.accepted.*",
      "acceptor.*.status",
      "learner.*.*",
      "propose.*",
      "learners.query",
    ];
    for (const family of families) bus.subscribe(`${prefix}.${family}`, (m) => this.#onMessage(m));
  }

  static async connect(url: string, user: { user: string; password: string }, cluster: string): Promise<Observer> {
    const events: string[] = [];
    const bus = await NatsBus.connect({
      servers: url,
      name: "test observer",
      credentials: user,
      onStatus: (status) => events.push(status.type === "error" ? `error ${status.error.message}` : status.type),
    });
    const observer = new Observer(bus, `paxos.v1.${cluster}`, events);
    await bus.flush();
    return observer;
  }

  /** Calls `handler` with every message from now until the returned function is called. */
  tap(handler: (m: Observed) => void): () => void {
    this.#taps.add(handler);
    return () => this.#taps.delete(handler);
  }

  /**
   * Subscribes to `subject` (any subject, wildcards allowed) until the returned function is
   * called; resolves once the server has the subscription.
   */
  async watch(subject: string, handler: (m: Observed) => void): Promise<() => void> {
    const subscription = this.bus.subscribe(subject, (m) =>
      handler({ subject: m.subject, data: m.data, atMs: Date.now() }),
    );
    await this.bus.flush();
    return () => subscription.unsubscribe();
  }

  close(): Promise<void> {
    return this.bus.close();
  }

  #onMessage(m: BusMessage): void {
    const observed: Observed = { subject: m.subject, data: m.data, atMs: Date.now() };
    const tokens = m.subject.slice(this.#prefix.length + 1).split(".");
    if (tokens[0] === "proposer" && tokens[2] === "prepare") {
      const msg = parseMessage(m.data);
      if (msg?.type === "prepare") {
        const key = `${msg.ballot.round}.${msg.ballot.proposerId}`;
        if (!this.prepares.has(key)) this.prepares.set(key, m.data);
      }
    } else if (tokens[0] === "proposer" && tokens[2] === "accept") {
      this.lastAccept = observed;
    } else if (tokens[0] === "acceptor" && tokens[2] === "accepted" && tokens[1] !== undefined) {
      this.lastAccepted.set(tokens[1], observed);
    }
    for (const tap of this.#taps) tap(observed);
  }
}

/** The protocol message in an envelope this test wrote or saw, or null when it is not one. */
export function parseMessage(data: Uint8Array): Message | null {
  try {
    const envelope = JSON.parse(new TextDecoder().decode(data)) as { msg?: Message };
    return envelope.msg ?? null;
  } catch {
    return null;
  }
}

/** One malformed payload and the drop reason its receiver must count. */
export interface HostilePayload {
  readonly name: string;
  readonly data: Uint8Array;
  readonly reason: string;
}

const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);

/** An envelope around `msg` as written by hand, so any field can be wrong. */
export function envelope(fields: Record<string, unknown>): Uint8Array {
  return utf8(JSON.stringify(fields));
}

/**
 * The malformed payloads of every hostile-message case, built around `valid`, a message the
 * receiver would take on the subject they are sent on: each is refused at the boundary for one
 * reason (packages/wire/src/codec.ts checks size, UTF-8, depth, JSON, version, cluster, type and
 * schema in that order). `schemaViolation` is a copy of `valid` that breaks its schema.
 * `tooLargeBytes` must exceed messageBytesMax and stay within the server's max_payload.
 */
export function hostilePayloads(
  cluster: string,
  valid: Message,
  schemaViolation: Record<string, unknown>,
  tooLargeBytes: number,
): HostilePayload[] {
  const garbage = new Uint8Array(512);
  // A fixed pattern (no randomness): every byte value, so 0x80-0xff appear where UTF-8 forbids them.
  for (let i = 0; i < garbage.length; i++) garbage[i] = (i * 167 + 13) & 0xff;
  garbage[0] = 0xff;
  const good = new TextDecoder().decode(encode(cluster, valid));
  // A well-formed envelope with one invalid UTF-8 sequence (0xc3 0x28) inside a string.
  const withBadUtf8 = utf8(good.replace(/"type":"/, '"note":"@@","type":"'));
  const at = withBadUtf8.indexOf(0x40); // the first "@"
  withBadUtf8[at] = 0xc3;
  withBadUtf8[at + 1] = 0x28;
  // Envelope depth 1, then 32 arrays: 33 levels, one more than jsonDepthMax.
  const deep = `{"v":${WIRE_VERSION},"cluster":${JSON.stringify(cluster)},"msg":${"[".repeat(32)}${"]".repeat(32)}}`;
  const large = new Uint8Array(tooLargeBytes).fill(0x20);
  large.set(utf8(good));
  return [
    { name: "garbage bytes", data: garbage, reason: "badJson" },
    { name: "invalid UTF-8", data: withBadUtf8, reason: "badJson" },
    { name: "not JSON", data: utf8(good.slice(0, good.length - 7)), reason: "badJson" },
    { name: "33-deep nesting", data: utf8(deep), reason: "tooDeep" },
    { name: `${tooLargeBytes} bytes`, data: large, reason: "tooLarge" },
    { name: "another cluster", data: encode(`${cluster}-other`, valid), reason: "cluster" },
    { name: "another version", data: envelope({ v: WIRE_VERSION + 1, cluster, msg: valid }), reason: "version" },
    {
      name: "unknown type",
      data: envelope({ v: WIRE_VERSION, cluster, msg: { ...valid, type: "elect" } }),
      reason: "unknownType",
    },
    { name: "schema violation", data: envelope({ v: WIRE_VERSION, cluster, msg: schemaViolation }), reason: "schema" },
  ];
}

/** How many payloads of `payloads` carry each reason. */
export function reasonCounts(payloads: readonly HostilePayload[], times = 1): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const { reason } of payloads) counts[reason] = (counts[reason] ?? 0) + times;
  return counts;
}

/** One Prometheus sample: `name`, its labels, its value. */
export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** The samples of a Prometheus text exposition (comments skipped). */
export function parseMetrics(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split("\n")) {
    const match = /^([A-Za-z_:][A-Za-z0-9_:]*)(?:\{([^}]*)\})?\s+(\S+)/.exec(line);
    if (match === null) continue;
    const labels: Record<string, string> = {};
    for (const pair of (match[2] ?? "").matchAll(/([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[pair[1] ?? ""] = pair[2] ?? "";
    }
    samples.push({ name: match[1] ?? "", labels, value: Number(match[3]) });
  }
  return samples;
}

/**
 * GET /metrics of `service`, parsed. Tries twice: a keep-alive connection the server closed as it
 * was reused fails with ECONNRESET, which says nothing about the service.
 */
export async function scrape(service: ServiceProcess): Promise<Sample[]> {
  const url = `http://127.0.0.1:${service.adminPort}/metrics`;
  for (let attempt = 1; ; attempt++) {
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(10_000) });
      return parseMetrics(await response.text());
    } catch (error) {
      if (attempt >= 2 || service.done) throw error;
    }
  }
}

/** The value of `name` with exactly these `labels` among `samples` (0 when absent). */
export function sampleValue(samples: readonly Sample[], name: string, labels: Record<string, string> = {}): number {
  const wanted = Object.entries(labels);
  const found = samples.find(
    (sample) => sample.name === name && wanted.every(([key, value]) => sample.labels[key] === value),
  );
  return found?.value ?? 0;
}

/** `paxos_dropped_messages_total` of `service`, by reason. */
export async function dropCounts(service: ServiceProcess): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const sample of await scrape(service)) {
    const reason = sample.labels["reason"];
    if (sample.name === "paxos_dropped_messages_total" && reason !== undefined) counts[reason] = sample.value;
  }
  return counts;
}

/** What rose from `before` to `after`, reasons that did not rise left out. */
export function rise(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  const delta: Record<string, number> = {};
  for (const [reason, value] of Object.entries(after)) {
    const grown = value - (before[reason] ?? 0);
    if (grown !== 0) delta[reason] = grown;
  }
  return delta;
}

/** Resident memory of process `pid` in bytes (VmRSS of /proc/<pid>/status). */
export function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  if (match === null) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(match[1]) * 1024;
}

/** GET /healthz of `service`: its status code, or 0 when it does not answer. */
export async function healthz(service: ServiceProcess): Promise<number> {
  try {
    return (await getJson(`http://127.0.0.1:${service.adminPort}/healthz`)).status;
  } catch {
    return 0;
  }
}
