// The environment readers: each one accepts good values, names a bad or missing variable in a
// fixed phrase, applies its default, treats empty as unset, and readEnv reports every problem at
// once. Pure: each case passes a plain object as the environment.
import { describe, expect, it } from "vitest";
import { ConfigError, envVar, readEnv } from "./env.ts";

/** The problems of the ConfigError readEnv throws for `env`; fails when it throws none. */
function problemsOf(spec: Parameters<typeof readEnv>[0], env: NodeJS.ProcessEnv): readonly string[] {
  try {
    readEnv(spec, env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error("readEnv accepted the environment");
}

describe("envVar.id", () => {
  const spec = { X: envVar.id() };

  it("accepts an id, trimmed", () => {
    expect(readEnv(spec, { X: " a1_B-2 " }).X).toBe("a1_B-2");
  });
  it("rejects a malformed id and shows it", () => {
    expect(problemsOf(spec, { X: "no spaces!" })).toEqual(['X must be 1 to 64 of A-Z a-z 0-9 _ - (got "no spaces!")']);
  });
  it("enforces a shorter lengthMax", () => {
    expect(readEnv({ X: envVar.id(3) }, { X: "abc" }).X).toBe("abc");
    expect(problemsOf({ X: envVar.id(3) }, { X: "abcd" })).toEqual([
      'X must be 1 to 3 of A-Z a-z 0-9 _ - (got "abcd")',
    ]);
  });
  it("is required, and empty counts as unset", () => {
    expect(problemsOf(spec, {})).toEqual(["X is required (an id such as a1)"]);
    expect(problemsOf(spec, { X: "  " })).toEqual(["X is required (an id such as a1)"]);
  });
  it("takes a default when unset or empty", () => {
    const withDefault = { X: envVar.id().default("local") };
    expect(readEnv(withDefault, {}).X).toBe("local");
    expect(readEnv(withDefault, { X: "" }).X).toBe("local");
  });
});

describe("envVar.idList", () => {
  const spec = { X: envVar.idList() };

  it("splits and trims a comma list", () => {
    expect(readEnv(spec, { X: "a1, a2 ,a3" }).X).toEqual(["a1", "a2", "a3"]);
  });
  it("names an invalid id, including an empty one", () => {
    expect(problemsOf(spec, { X: "a1,b!" })).toEqual(['X has an invalid id "b!" (want e.g. a1,a2,a3)']);
    expect(problemsOf(spec, { X: "a1,,a2" })).toEqual(['X has an invalid id "" (want e.g. a1,a2,a3)']);
  });
  it("names an id listed twice", () => {
    expect(problemsOf(spec, { X: "a1,a2,a1" })).toEqual(['X lists an id twice ("a1")']);
  });
  it("is required", () => {
    expect(problemsOf(spec, { X: "" })).toEqual(["X is required (a comma list of acceptor ids, e.g. a1,a2,a3)"]);
  });
});

describe("envVar.url", () => {
  const spec = { X: envVar.url(["redis", "rediss"]) };

  it("accepts a URL with an allowed protocol", () => {
    expect(readEnv(spec, { X: "rediss://user:pw@h:6380/0" }).X).toBe("rediss://user:pw@h:6380/0");
  });
  it("rejects another protocol or a non-URL without echoing the value", () => {
    const message = "X must use redis: or rediss: (a URL such as redis://127.0.0.1:port)";
    const wrongProtocol = problemsOf(spec, { X: "http://user:secret1@h" });
    const notUrl = problemsOf(spec, { X: "secret2 not a url" });
    expect(wrongProtocol).toEqual([message]);
    expect(notUrl).toEqual([message]);
    expect(JSON.stringify([wrongProtocol, notUrl])).not.toMatch(/secret/);
  });
  it("is required unless given a default", () => {
    expect(problemsOf(spec, {})).toEqual(["X is required (a URL such as redis://127.0.0.1:port)"]);
    expect(readEnv({ X: envVar.url(["nats"]).default("nats://127.0.0.1:4222") }, { X: " " }).X).toBe(
      "nats://127.0.0.1:4222",
    );
    expect(readEnv({ X: envVar.url(["nats"]).nullable().default(null) }, {}).X).toBeNull();
  });
});

describe("envVar.urlList", () => {
  const spec = { X: envVar.urlList(["redis"]) };

  it("splits and trims a comma list of URLs", () => {
    expect(readEnv(spec, { X: "redis://a:1, redis://b:2" }).X).toEqual(["redis://a:1", "redis://b:2"]);
  });
  it("rejects a bad item without echoing it", () => {
    expect(problemsOf(spec, { X: "redis://a:1,http://pw-secret@b" })).toEqual([
      "X must use redis: (a URL such as redis://127.0.0.1:port)",
    ]);
  });
  it("is required", () => {
    expect(problemsOf(spec, {})).toEqual(["X is required (a comma list of URLs such as redis://127.0.0.1:port)"]);
  });
});

describe("envVar.milliseconds", () => {
  const spec = { X: envVar.milliseconds(100, 60_000) };

  it("accepts whole milliseconds within the bounds", () => {
    expect(readEnv(spec, { X: "100" }).X).toBe(100);
    expect(readEnv(spec, { X: "60000" }).X).toBe(60_000);
  });
  it("rejects anything else, naming the bounds", () => {
    for (const raw of ["99", "60001", "1.5", "-5", "10s"]) {
      expect(problemsOf(spec, { X: raw })).toEqual([
        `X must be a whole number of milliseconds, 100 to 60000 (got ${JSON.stringify(raw)})`,
      ]);
    }
  });
});

describe("envVar.overrides", () => {
  const spec = { X: envVar.overrides({ slotsMax: 8, bytesMax: 1_024 }).default({}) };

  it("reads a JSON object of some of the defaults' keys", () => {
    expect(readEnv(spec, { X: '{"slotsMax":16}' }).X).toEqual({ slotsMax: 16 });
    expect(readEnv(spec, {}).X).toEqual({});
  });
  it("names what is wrong: not JSON, not an object, an unknown key, a value that is no positive whole number", () => {
    const keys = "with keys among slotsMax, bytesMax";
    expect(problemsOf(spec, { X: "{slotsMax:16}" })).toEqual([
      `X is not JSON (must be a JSON object of positive whole numbers ${keys})`,
    ]);
    expect(problemsOf(spec, { X: "[1]" })).toEqual([`X must be a JSON object of positive whole numbers ${keys}`]);
    expect(problemsOf(spec, { X: '{"slotMax":16}' })).toEqual([
      `X has an unknown key "slotMax" (must be a JSON object of positive whole numbers ${keys})`,
    ]);
    expect(problemsOf(spec, { X: '{"slotsMax":0}' })).toEqual(["X has slotsMax 0, not a positive whole number"]);
    expect(problemsOf(spec, { X: '{"bytesMax":"1k"}' })).toEqual(['X has bytesMax "1k", not a positive whole number']);
  });
});

describe("envVar.port", () => {
  const spec = { X: envVar.port() };

  it("accepts 0..65535", () => {
    expect(readEnv(spec, { X: "0" }).X).toBe(0);
    expect(readEnv(spec, { X: "65535" }).X).toBe(65_535);
  });
  it("rejects anything else", () => {
    for (const raw of ["65536", "-1", "1e3", "0x10", "80a", "123456"]) {
      expect(problemsOf(spec, { X: raw })).toEqual([`X must be a port number 0..65535 (got ${JSON.stringify(raw)})`]);
    }
  });
  it("is required unless given a default", () => {
    expect(problemsOf(spec, {})).toEqual(["X is required (a port number)"]);
    expect(readEnv({ X: envVar.port().default(9090) }, { X: "" }).X).toBe(9090);
  });
});

describe("envVar.flag", () => {
  const spec = { X: envVar.flag().default(false) };

  it("reads 1/true as on and 0/false as off", () => {
    expect(readEnv(spec, { X: "1" }).X).toBe(true);
    expect(readEnv(spec, { X: "true" }).X).toBe(true);
    expect(readEnv(spec, { X: "0" }).X).toBe(false);
    expect(readEnv(spec, { X: "false" }).X).toBe(false);
  });
  it("rejects anything else, case included", () => {
    expect(problemsOf(spec, { X: "yes" })).toEqual(['X must be 1 or 0 (got "yes")']);
    expect(problemsOf(spec, { X: "TRUE" })).toEqual(['X must be 1 or 0 (got "TRUE")']);
  });
  it("is off when unset or empty, and required without a default", () => {
    expect(readEnv(spec, {}).X).toBe(false);
    expect(readEnv(spec, { X: "" }).X).toBe(false);
    expect(problemsOf({ X: envVar.flag() }, {})).toEqual(["X is required (1 or 0)"]);
  });
});

describe("envVar.logLevel", () => {
  const spec = { X: envVar.logLevel().default("info") };

  it("accepts a pino level", () => {
    expect(readEnv(spec, { X: "debug" }).X).toBe("debug");
  });
  it("rejects another word", () => {
    expect(problemsOf(spec, { X: "loud" })).toEqual([
      "X must be one of trace, debug, info, warn, error, fatal, silent",
    ]);
  });
  it("defaults when unset or empty", () => {
    expect(readEnv(spec, { X: "" }).X).toBe("info");
  });
});

describe("envVar.text", () => {
  it("accepts any non-empty text, trimmed", () => {
    expect(readEnv({ X: envVar.text() }, { X: " /var/lib/x " }).X).toBe("/var/lib/x");
  });
  it("is required unless given a default", () => {
    expect(problemsOf({ X: envVar.text() }, { X: "" })).toEqual(["X is required (a non-empty value)"]);
    expect(readEnv({ X: envVar.text().default("0.0.0.0") }, {}).X).toBe("0.0.0.0");
  });
});

describe("readEnv", () => {
  it("reports every bad or missing variable at once, one line each, in spec order", () => {
    const spec = {
      A: envVar.id(),
      B: envVar.port().default(1),
      C: envVar.idList(),
      D: envVar.text(),
      E: envVar.logLevel().default("info"),
    };
    expect(problemsOf(spec, { A: "x y", B: "99999", C: "a1,a1", E: "info" })).toEqual([
      'A must be 1 to 64 of A-Z a-z 0-9 _ - (got "x y")',
      'B must be a port number 0..65535 (got "99999")',
      'C lists an id twice ("a1")',
      "D is required (a non-empty value)",
    ]);
  });

  it("lists the problems in the error message, one per line", () => {
    expect(() => readEnv({ A: envVar.text(), B: envVar.port() }, { B: "x" })).toThrow(
      'invalid configuration:\n  - A is required (a non-empty value)\n  - B must be a port number 0..65535 (got "x")',
    );
  });

  it("reports one line per variable even when its value breaks several rules", () => {
    expect(problemsOf({ X: envVar.id(3) }, { X: "x".repeat(70) })).toHaveLength(1);
  });

  it("ignores variables outside the spec", () => {
    expect(readEnv({ A: envVar.text() }, { A: "a", OTHER: "b" })).toEqual({ A: "a" });
  });
});
