// What ProposalService throws (HttpProblems, in HTTP terms) becomes one PaxosClientError code each,
// and a wait ended by the caller or by close() becomes `aborted` or `closed`, saying whether the
// proposal may still be decided. Values are checked as the gateway checks a body.
import { DEFAULT_GATEWAY_LIMITS, HttpProblem } from "@paxos/gateway-app";
import { describe, expect, it } from "vitest";
import { clientErrorOf, type FailedProposal } from "./client-error.ts";
import { checkIdempotencyKey, checkProposalValue } from "./proposal-value.ts";

const KEYED: FailedProposal = { requestId: "r-1", keyed: true, stopped: "none", retryAfterSeconds: 3 };

describe("clientErrorOf", () => {
  it("maps each problem ProposalService throws to its code", () => {
    const cases = [
      [new HttpProblem("payloadTooLarge", "The proposal exceeds 16384 bytes"), "tooLarge"],
      [new HttpProblem("idempotencyKeyInFlight", "in flight"), "inFlight"],
      [new HttpProblem("idempotencyKeyReused", "reused", { extensions: { index: 7 } }), "conflict"],
      [new HttpProblem("unavailable", "No proposer took the proposal: no leader is known"), "unavailable"],
      [new HttpProblem("outcomeUnknown", "not decided in time"), "outcomeUnknown"],
    ] as const;
    for (const [problem, code] of cases) {
      const error = clientErrorOf(problem, KEYED);
      expect(error?.code).toBe(code);
      expect(error?.requestId).toBe("r-1");
      expect(error?.cause).toBe(problem);
    }
  });

  it("gives unavailable its retry delay and conflict its index", () => {
    const unavailable = clientErrorOf(new HttpProblem("unavailable", "No proposer took the proposal"), KEYED);
    expect(unavailable).toMatchObject({ retryAfterSeconds: 3, mayBeDecided: false });
    expect(unavailable?.message).toMatch(/not queued: propose it again after 3 s/);
    const conflict = clientErrorOf(new HttpProblem("idempotencyKeyReused", "x", { extensions: { index: 7 } }), KEYED);
    expect(conflict).toMatchObject({ index: 7 });
    expect(conflict?.message).toMatch(/decided at index 7 with a different value: use a new key/);
  });

  it("tells how to learn an unknown outcome, with or without a key", () => {
    const keyed = clientErrorOf(new HttpProblem("outcomeUnknown", "x"), KEYED);
    expect(keyed).toMatchObject({ mayBeDecided: true });
    expect(keyed?.message).toMatch(/same idempotency key/);
    const unkeyed = clientErrorOf(new HttpProblem("outcomeUnknown", "x"), { ...KEYED, keyed: false });
    expect(unkeyed?.message).toMatch(/only the log tells \(look for request id r-1\)/);
  });

  it("turns a wait ended by the caller or close() into aborted or closed", () => {
    for (const stopped of ["aborted", "closed"] as const) {
      const notSent = clientErrorOf(new HttpProblem("unavailable", "x"), { ...KEYED, stopped });
      expect(notSent).toMatchObject({ code: stopped, mayBeDecided: false });
      const sent = clientErrorOf(new HttpProblem("outcomeUnknown", "x"), { ...KEYED, stopped });
      expect(sent).toMatchObject({ code: stopped, mayBeDecided: true });
      // A refusal that is not about waiting keeps its own code.
      expect(clientErrorOf(new HttpProblem("payloadTooLarge", "x"), { ...KEYED, stopped })?.code).toBe("tooLarge");
    }
  });

  it("leaves anything else to the caller, as the bug it is", () => {
    expect(clientErrorOf(new Error("boom"), KEYED)).toBeNull();
    expect(clientErrorOf(new HttpProblem("internal", "x"), KEYED)).toBeNull();
  });
});

describe("checkProposalValue", () => {
  const depthMax = DEFAULT_GATEWAY_LIMITS.valueDepthMax;
  const nested = (levels: number): unknown => {
    let value: unknown = "leaf";
    for (let i = 0; i < levels; i++) value = i % 2 === 0 ? [value] : { inner: value };
    return value;
  };

  it("takes JSON as deep as the gateway takes it, and no deeper", () => {
    expect(checkProposalValue(nested(depthMax), depthMax)).toEqual(nested(depthMax));
    expect(() => checkProposalValue(nested(depthMax + 1), depthMax)).toThrow(/nests deeper than/);
  });

  it("refuses what JSON would change", () => {
    for (const value of [undefined, Number.POSITIVE_INFINITY, 1n, () => 1, new Map(), { when: new Date() }]) {
      expect(() => checkProposalValue(value, depthMax)).toThrow(/must be JSON/);
    }
  });

  it("takes the Idempotency-Keys the gateway takes", () => {
    expect(checkIdempotencyKey("a.b_c~d:e+f/g=h-1")).toBe("a.b_c~d:e+f/g=h-1");
    for (const key of ["", "a b", "x".repeat(201), "a, b", 7]) {
      expect(() => checkIdempotencyKey(key)).toThrow(/1 to 200 characters/);
    }
  });
});
