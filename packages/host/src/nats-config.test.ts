// How a process finds its NATS identity: a password is required unless the development flag
// says otherwise, the user defaults to the name the permission file gives the process, password
// files are read and trimmed, and no message or log field shows a password.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { readEnv, ConfigError } from "./env.ts";
import { natsClientConfig, natsSpec, redactedUrl } from "./nats-config.ts";

function config(env: NodeJS.ProcessEnv) {
  return natsClientConfig(readEnv(natsSpec, env), "acceptor", "a1");
}

function problemsOf(env: NodeJS.ProcessEnv): readonly string[] {
  try {
    config(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error("the configuration was accepted");
}

describe("natsClientConfig", () => {
  it("refuses to run without a password, and says how to run anonymously on purpose", () => {
    const [problem] = problemsOf({});
    expect(problem).toContain("NATS_PASSWORD or NATS_PASSWORD_FILE is required");
    expect(problem).toContain("default acceptor-a1");
    expect(problem).toContain("PAXOS_DEV_NATS_ANONYMOUS=1");
  });

  it("defaults the user to <role>-<id> and takes an explicit one", () => {
    expect(config({ NATS_PASSWORD: "s3cret" }).credentials).toEqual({ user: "acceptor-a1", password: "s3cret" });
    expect(config({ NATS_PASSWORD: "s3cret", NATS_USER: "acceptors" }).credentials?.user).toBe("acceptors");
  });

  it("reads and trims a password file, and names an unreadable or empty one without its content", () => {
    const dir = mkdtempSync(join(tmpdir(), "paxos-nats-config-"));
    const file = join(dir, "password");
    writeFileSync(file, "from-a-file\n");
    expect(config({ NATS_PASSWORD_FILE: file }).credentials?.password).toBe("from-a-file");
    expect(problemsOf({ NATS_PASSWORD_FILE: join(dir, "missing") })).toEqual([
      `NATS_PASSWORD_FILE: cannot read ${join(dir, "missing")} (ENOENT)`,
    ]);
    writeFileSync(file, "  \n");
    expect(problemsOf({ NATS_PASSWORD_FILE: file })).toEqual([`NATS_PASSWORD_FILE: ${file} is empty`]);
    expect(problemsOf({ NATS_PASSWORD_FILE: file, NATS_PASSWORD: "x" })).toEqual([
      "NATS_PASSWORD and NATS_PASSWORD_FILE are both set; set one",
    ]);
  });

  it("connects anonymously only with the development flag, never with a password as well", () => {
    expect(config({ PAXOS_DEV_NATS_ANONYMOUS: "1" }).credentials).toBeNull();
    expect(problemsOf({ PAXOS_DEV_NATS_ANONYMOUS: "1", NATS_PASSWORD: "x" })).toEqual([
      "PAXOS_DEV_NATS_ANONYMOUS=1 and a NATS password are both set; drop one",
    ]);
  });

  it("takes TLS files, a client certificate only with its key", () => {
    expect(config({ NATS_PASSWORD: "x", NATS_TLS_CA_FILE: "/ca.pem" }).tls).toEqual({ caFile: "/ca.pem" });
    expect(config({ NATS_PASSWORD: "x" }).tls).toBeNull();
    expect(problemsOf({ NATS_PASSWORD: "x", NATS_TLS_CERT_FILE: "/c.pem" })).toEqual([
      "NATS_TLS_CERT_FILE and NATS_TLS_KEY_FILE go together: set both or neither",
    ]);
  });

  it("never shows a password: not in problems, not in a redacted URL", () => {
    const problems = problemsOf({ NATS_PASSWORD: "hunter2", PAXOS_DEV_NATS_ANONYMOUS: "1" });
    expect(problems.join("\n")).not.toContain("hunter2");
    expect(redactedUrl("nats://acceptor-a1:hunter2@127.0.0.1:4222")).toBe(
      "nats://127.0.0.1:4222 (credentials in the URL hidden)",
    );
    expect(redactedUrl("nats://127.0.0.1:4222")).toBe("nats://127.0.0.1:4222");
  });
});
