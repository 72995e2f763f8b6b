// The exactly-once check of issue 11: it fails on a log that lost an acknowledged write, holds
// one twice, or holds one at another index than its answer gave (and on etcd's keys likewise),
// and passes a log that holds each once, with unacknowledged entries alongside.
import { describe, expect, it } from "vitest";
import {
  type AcknowledgedWrite,
  KeyValueCheck,
  type LoggedEntry,
  LogCheck,
  valueKey,
} from "../../bench/lib/exactly-once.ts";

const ack = (requestId: string, position: number, value: string): AcknowledgedWrite => ({
  requestId,
  position,
  valueKey: valueKey(value),
});
const entry = (position: number, requestId: string, value: string): LoggedEntry => ({
  position,
  requestId,
  valueKey: valueKey(value),
});

function checkLog(acknowledged: AcknowledgedWrite[], log: LoggedEntry[]): ReturnType<LogCheck["result"]> {
  const check = new LogCheck(acknowledged);
  for (const e of log) check.add(e);
  return check.result();
}

describe("LogCheck", () => {
  const acknowledged = [ack("r0", 0, "v0"), ack("r1", 1, "v1"), ack("r2", 2, "v2")];

  it("passes a log holding every acknowledged write once, where its answer said", () => {
    const result = checkLog(acknowledged, [
      entry(0, "r0", "v0"),
      entry(1, "r1", "v1"),
      entry(2, "r2", "v2"),
      // A write that timed out but was decided anyway: not acknowledged, so only read.
      entry(3, "r-unanswered", "v-unanswered"),
    ]);
    expect(result).toMatchObject({ ok: true, acknowledged: 3, entriesRead: 4 });
    expect(result.examples).toEqual([]);
  });

  it("fails on a lost write, a duplicate and a wrong index, and counts each", () => {
    const result = checkLog(
      [...acknowledged, ack("r3", 3, "v3")],
      [
        entry(0, "r0", "v0"),
        // r1 is lost: index 1 holds another request.
        entry(1, "r-other", "v-other"),
        entry(2, "r2", "v2"),
        // r2's value again, under another request id: a duplicate.
        entry(3, "r-again", "v2"),
        // r3 was acknowledged at 3 but is at 4: a wrong index.
        entry(4, "r3", "v3"),
      ],
    );
    expect(result.ok).toBe(false);
    expect(result.problems).toEqual({ lost: 1, wrongIndex: 1, wrongValue: 0, duplicate: 1 });
    expect(result.examples.join("\n")).toMatch(/lost: request r1/);
    expect(result.examples.join("\n")).toMatch(/wrongIndex: request r3 was acknowledged at index 3 but is at 4/);
    expect(result.examples.join("\n")).toMatch(/duplicate: request r2 .* at indexes 2, 3/);
  });

  it("fails on the same request id decided twice", () => {
    const result = checkLog([ack("r0", 0, "v0")], [entry(0, "r0", "v0"), entry(1, "r0", "v0")]);
    expect(result.problems.duplicate).toBe(1);
    expect(result.ok).toBe(false);
  });

  it("fails on an acknowledged index that holds the request with another value", () => {
    const result = checkLog([ack("r0", 0, "v0")], [entry(0, "r0", "not v0")]);
    expect(result.problems).toEqual({ lost: 0, wrongIndex: 0, wrongValue: 1, duplicate: 0 });
  });

  it("compares long values by digest, so 4 KiB values need not be kept", () => {
    const long = "x".repeat(4096);
    expect(valueKey(long)).toMatch(/^sha256:/);
    expect(valueKey(long)).not.toBe(valueKey(`${long.slice(1)}y`));
    expect(checkLog([ack("r0", 0, long)], [entry(0, "r0", long)]).ok).toBe(true);
  });

  it("knows the highest acknowledged index, which the log read must reach", () => {
    expect(new LogCheck(acknowledged).highestAcknowledgedPosition).toBe(2);
    expect(new LogCheck([]).highestAcknowledgedPosition).toBe(-1);
  });
});

describe("KeyValueCheck", () => {
  it("passes keys written once at their acknowledged revision, and fails lost, rewritten and moved ones", () => {
    const check = new KeyValueCheck([
      ack("k-ok", 10, "a"),
      ack("k-lost", 11, "b"),
      ack("k-twice", 12, "c"),
      ack("k-moved", 13, "d"),
    ]);
    check.add({ key: "k-ok", modRevision: 10, version: 1, valueKey: valueKey("a") });
    check.add({ key: "k-twice", modRevision: 12, version: 2, valueKey: valueKey("c") });
    check.add({ key: "k-moved", modRevision: 14, version: 1, valueKey: valueKey("d") });
    const result = check.result();
    expect(result.ok).toBe(false);
    expect(result.problems).toEqual({ lost: 1, wrongIndex: 1, wrongValue: 0, duplicate: 1 });
    expect(result.entriesRead).toBe(3);
  });
});
