// NATS users for the tests that run cluster roles on a real nats-server: every identity a test
// uses gets its own user and password and its role's permissions, from the same permission file
// a deployment uses (packages/transport-nats/src/permissions.ts), so the tests exercise the
// services as they run in production rather than on an open server.
import { randomBytes } from "node:crypto";
import { ClusterCredentials, type NatsExtraUser } from "@paxos/transport-nats";
import { type ClusterRole, Subjects } from "@paxos/wire";

/**
 * The ids each role may take in a test cluster. `test` is the id under which a test's own client
 * acts: as a gateway where it proposes, queries learners and reads acceptor statuses (TestClient),
 * as a proposer where it forges prepares or heartbeats.
 */
export const TEST_IDS = {
  acceptor: ["a1", "a2", "a3"],
  proposer: ["p1", "p2", "p3", "test"],
  learner: ["l1", "l2", "l3"],
  gateway: ["g1", "g2", "test"],
} as const satisfies Record<ClusterRole, readonly string[]>;

/**
 * Fresh credentials for every identity of TEST_IDS on cluster `cluster`. Start the server with
 * them (`startNats({ credentials })`), give each service `credentials.env(role, id)` and each
 * test client `credentials.of(role, id)`.
 */
export function testCredentials(cluster: string): ClusterCredentials {
  const identities = (Object.keys(TEST_IDS) as ClusterRole[]).flatMap((role) =>
    TEST_IDS[role].map((id) => ({ role, id })),
  );
  return new ClusterCredentials(new Subjects(cluster), identities);
}

/**
 * A test-only user that may publish and subscribe to every subject, for a test that must watch
 * traffic no single role may see (what reaches any subject at all). Pass it to the server as an
 * extra user (`startNats({ credentials, extraUsers: [observer] })`) and connect with it as
 * credentials. No deployment has such a user.
 */
export function testObserver(): NatsExtraUser {
  return {
    user: "test-observer",
    password: randomBytes(24).toString("base64url"),
    permissions: { publish: { allow: [">"] }, subscribe: { allow: [">"] } },
  };
}
