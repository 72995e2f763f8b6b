// What a vote costs each process that reads it, outside any cluster: decoding an `accepted`
// message (size, UTF-8, JSON, depth, schema, subject) and comparing its value with the one it
// counts for, for a full slot of 100-byte and of 4 KiB values (the leader fills a slot up to
// batchRequestsMax requests or batchBytesMax bytes).
//
//   npm run bench:codec
import { type ClientRequest, DEFAULT_LIMITS, requestBytes, sameSlotValue, type SlotValue } from "@paxos/core";
import { decodeMessage, encode, Subjects } from "@paxos/wire";
import { formatNumber, formatTable } from "./lib/text-table.ts";

const CLUSTER = "bench";
const ACCEPTORS: ReadonlySet<string> = new Set(["a1", "a2", "a3"]);
const subjects = new Subjects(CLUSTER);

/** A slot as full as the leader builds it with values of `valueBytes`, but at most `requestsMax` requests. */
function fullSlot(valueBytes: number, requestsMax: number): SlotValue {
  const requests: ClientRequest[] = [];
  let bytes = 0;
  while (requests.length < requestsMax) {
    const request: ClientRequest = {
      id: crypto.randomUUID(),
      payload: `w-${requests.length} `.padEnd(valueBytes, "x"),
    };
    if (bytes + requestBytes(request) > DEFAULT_LIMITS.batchBytesMax) break;
    bytes += requestBytes(request);
    requests.push(request);
  }
  return { kind: "batch", requests };
}

/** Mean microseconds of `run`, after a warm-up. */
function microseconds(run: () => unknown, iterations: number): number {
  for (let i = 0; i < iterations / 10; i++) run();
  const started = performance.now();
  for (let i = 0; i < iterations; i++) run();
  return ((performance.now() - started) * 1000) / iterations;
}

const rows = [
  { label: "100 B", valueBytes: 100, requestsMax: 32 },
  { label: "4 KiB", valueBytes: 4096, requestsMax: DEFAULT_LIMITS.batchRequestsMax },
].map(({ label, valueBytes, requestsMax }) => {
  const value = fullSlot(valueBytes, requestsMax);
  const msg = { type: "accepted" as const, ballot: { round: 3, proposerId: "p1" }, slot: 5, value, acceptorId: "a1" };
  const data = encode(CLUSTER, msg);
  const subject = subjects.accepted("a1", "p1");
  const decoded = decodeMessage(subjects, subject, data, ACCEPTORS, DEFAULT_LIMITS);
  if (!decoded.ok || decoded.msg.type !== "accepted")
    throw new Error(`the vote does not decode: ${JSON.stringify(decoded)}`);
  const copy = decoded.msg.value;
  const iterations = valueBytes > 1000 ? 2_000 : 10_000;
  return [
    label,
    String(value.kind === "batch" ? value.requests.length : 0),
    formatNumber(data.byteLength, 0),
    formatNumber(
      microseconds(() => decodeMessage(subjects, subject, data, ACCEPTORS, DEFAULT_LIMITS), iterations),
      1,
    ),
    formatNumber(
      microseconds(() => sameSlotValue(value, copy), iterations),
      1,
    ),
  ];
});

console.log(
  formatTable(
    [
      { header: "values", align: "left" },
      { header: "requests in the slot", align: "right" },
      { header: "vote bytes", align: "right" },
      { header: "decode µs", align: "right" },
      { header: "compare with its value µs", align: "right" },
    ],
    rows,
  ),
);
