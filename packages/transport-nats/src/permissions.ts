import { randomBytes } from "node:crypto";
import { checkId, clusterUser, type ClusterRole, type Subjects } from "@paxos/wire";

/**
 * One process's identity: its role and its stable id (an acceptor's or learner's id, a
 * proposer's name, a gateway's id). Its NATS user is `clusterUser(role, id)`.
 */
export interface ClusterIdentity {
  readonly role: ClusterRole;
  readonly id: string;
}

/** The subject permissions of one NATS user, in nats-server's configuration terms. */
export interface NatsPermissions {
  readonly publish: { readonly allow: readonly string[] };
  readonly subscribe: { readonly allow: readonly string[] };
  /**
   * Responders may answer the requests they receive (one reply each, within a short time)
   * without holding publish rights on anyone's inbox.
   */
  readonly allow_responses?: { readonly max: number; readonly expires: string };
}

/**
 * Where NATS user `user`'s replies arrive: an inbox prefix of its own, so that no other user may
 * subscribe to its replies and nobody may publish into them but the responders the server lets
 * answer. NatsBus uses it whenever it connects with credentials.
 */
export function inboxPrefix(user: string): string {
  return `_INBOX_${user}`;
}

/** Responders answer within this; a reply permission expires with it. */
const RESPONSE_WINDOW = { max: 1, expires: "30s" } as const;

/**
 * What `identity` may publish and subscribe to on `subjects`' cluster: exactly what its role
 * sends and listens to (see BusTransport.subscriptionSubjects and the service API), and no more.
 * - An acceptor publishes only under `acceptor.<its id>.`, so it cannot vote as another acceptor.
 * - A learner publishes only under `learner.<its id>.` (catch-up, chosen answers, deliveries).
 * - Proposers prepare, accept, announce chosen values and heartbeat. A proposer's id is
 *   `<name>-<nonce>`, fresh at every start, and NATS wildcards match whole tokens only, so
 *   proposers share the proposer subjects: one proposer can speak as another, but nothing else can
 *   speak as a proposer.
 * - Gateways send proposals and learner queries, and read deliveries, statuses and heartbeats.
 * Replies (proposals answered by proposers, queries by learners) travel under `allow_responses`:
 * nobody holds publish rights on an inbox.
 */
export function rolePermissions(subjects: Subjects, identity: ClusterIdentity): NatsPermissions {
  const s = subjects;
  const id = checkId(identity.id, `${identity.role} id`);
  switch (identity.role) {
    case "acceptor":
      return {
        publish: { allow: [`${s.prefix}.acceptor.${id}.>`] },
        subscribe: {
          allow: [
            s.allProposers("prepare"),
            s.allProposers("accept"),
            s.allProposers("heartbeat"),
            s.allLearners("catchup"),
          ],
        },
      };
    case "proposer":
      return {
        publish: {
          allow: [
            s.allProposers("prepare"),
            s.allProposers("accept"),
            s.allProposers("chosen"),
            s.allProposers("heartbeat"),
          ],
        },
        subscribe: {
          allow: [
            `${s.prefix}.acceptor.*.promise.*`,
            `${s.prefix}.acceptor.*.nack.*`,
            s.allAccepted(),
            s.allProposers("chosen"),
            s.allProposers("heartbeat"),
            `${s.prefix}.propose.*`,
          ],
        },
        allow_responses: RESPONSE_WINDOW,
      };
    case "learner":
      return {
        publish: { allow: [`${s.prefix}.learner.${id}.>`] },
        subscribe: {
          allow: [
            s.allAccepted(),
            s.catchupRepliesTo(id),
            s.allProposers("chosen"),
            s.allProposers("heartbeat"),
            s.allLearners("catchup"),
            s.allLearners("chosen"),
            s.learnersQuery(),
          ],
        },
        allow_responses: RESPONSE_WINDOW,
      };
    case "gateway":
      return {
        publish: { allow: [`${s.prefix}.propose.*`, s.learnersQuery()] },
        subscribe: {
          allow: [
            `${inboxPrefix(clusterUser(identity.role, id))}.>`,
            s.allLearners("delivered"),
            s.allStatus(),
            s.allProposers("heartbeat"),
          ],
        },
      };
  }
}

/** One user of the server configuration: an identity and its password (or where to find it). */
export interface NatsUserEntry {
  readonly identity: ClusterIdentity;
  /**
   * The password itself, or `{ env: NAME }` for a configuration that reads it from the server's
   * environment (compose and Kubernetes keep passwords in secrets, not in the file).
   */
  readonly password: string | { readonly env: string };
}

/** A user outside the cluster's roles with permissions of its own (tests' observers). */
export interface NatsExtraUser {
  readonly user: string;
  readonly password: string;
  readonly permissions: NatsPermissions;
}

/**
 * The `authorization` block of a nats-server configuration for one cluster: one user per entry
 * with its role's permissions (rolePermissions), plus `extra` users. There is no default user
 * and no anonymous access: a client without valid credentials is refused at connect. The block
 * is JSON-shaped (nats-server's format accepts JSON), except that environment references are
 * written bare (`$NAME`), as the server resolves them.
 */
export function natsAuthorization(
  subjects: Subjects,
  users: readonly NatsUserEntry[],
  extra: readonly NatsExtraUser[] = [],
): string {
  const entries = [
    ...users.map(({ identity, password }) => ({
      user: clusterUser(identity.role, identity.id),
      secret: typeof password === "string" ? JSON.stringify(password) : `$${envName(password.env)}`,
      permissions: rolePermissions(subjects, identity),
    })),
    ...extra.map(({ user, password, permissions }) => ({ user, secret: JSON.stringify(password), permissions })),
  ];
  const names = new Set<string>();
  for (const { user } of entries) {
    if (names.has(user)) throw new Error(`NATS user ${user} is configured twice`);
    names.add(user);
  }
  const lines = entries.map(
    ({ user, secret, permissions }) =>
      `    { user: ${JSON.stringify(user)}, password: ${secret}, permissions: ${JSON.stringify(permissions)} }`,
  );
  return ["authorization {", "  users: [", lines.join(",\n"), "  ]", "}", ""].join("\n");
}

/**
 * Fresh random passwords for a set of identities, for a cluster whose launcher starts NATS
 * itself (`npm start`, the tests): the server's authorization block and each process's
 * credentials come from one object.
 */
export class ClusterCredentials {
  readonly subjects: Subjects;
  /** By NATS user. */
  readonly #users = new Map<string, { readonly identity: ClusterIdentity; readonly password: string }>();

  constructor(subjects: Subjects, identities: readonly ClusterIdentity[]) {
    this.subjects = subjects;
    for (const identity of identities) {
      this.#users.set(clusterUser(identity.role, identity.id), {
        identity,
        password: randomBytes(24).toString("base64url"),
      });
    }
  }

  /** The identities these credentials cover, with their passwords. */
  get users(): readonly NatsUserEntry[] {
    return [...this.#users.values()];
  }

  /** The server's authorization block (natsAuthorization), with `extra` users. */
  authorization(extra: readonly NatsExtraUser[] = []): string {
    return natsAuthorization(this.subjects, this.users, extra);
  }

  /** The user and password of `role`/`id`; throws for an identity these credentials do not cover. */
  of(role: ClusterRole, id: string): { readonly user: string; readonly password: string } {
    const user = clusterUser(role, id);
    const entry = this.#users.get(user);
    if (entry === undefined) throw new Error(`no NATS credentials for ${user}`);
    return { user, password: entry.password };
  }

  /** The environment of process `role`/`id`: NATS_USER and NATS_PASSWORD. */
  env(role: ClusterRole, id: string): { readonly NATS_USER: string; readonly NATS_PASSWORD: string } {
    const { user, password } = this.of(role, id);
    return { NATS_USER: user, NATS_PASSWORD: password };
  }
}

function envName(name: string): string {
  if (!/^[A-Z_][A-Z0-9_]*$/.test(name)) throw new Error(`not an environment variable name: ${name}`);
  return name;
}
