// Runs every scenario transcript in packages/core/testdata/*.txt against real Acceptor, Proposer
// and Learner instances (see scenario-runner.test-helper.ts for the language), and proves that the
// runner itself fails, with line, expected and actual, when a transcript's expectation is wrong.
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { runScenario, ScenarioError } from "./scenario-runner.test-helper.ts";

const testdata = fileURLToPath(new URL("../testdata/", import.meta.url));
const files = readdirSync(testdata)
  .filter((name) => name.endsWith(".txt"))
  .sort();

describe("scenario transcripts", () => {
  it("finds the transcripts", () => {
    expect(files.length).toBeGreaterThanOrEqual(7);
  });

  it.each(files)("%s", (name) => {
    runScenario(name, readFileSync(`${testdata}${name}`, "utf8"));
  });
});

describe("the scenario runner", () => {
  const setup = [
    "cluster acceptors=a1,a2,a3 proposers=p1 learners=l1",
    "tick p1 at=1000",
    "deliver-all prepare",
    "deliver-all promise",
  ];

  it("reports a wrong expectation with its line, expected and actual", () => {
    const text = [...setup, "expect role p1 leader ballot=2.p1 # wrong on purpose"].join("\n");
    expect(() => runScenario("wrong.txt", text)).toThrow(ScenarioError);
    expect(() => runScenario("wrong.txt", text)).toThrow(
      "wrong.txt:5: expect role p1 leader ballot=2.p1 # wrong on purpose\n  p1 ballot\n  expected: 2.p1\n  actual:   1.p1",
    );
  });

  it("reports a pattern that matches no held message, listing what is held", () => {
    const text = [...setup, "deliver accept p1 -> a1"].join("\n");
    expect(() => runScenario("nothing.txt", text)).toThrow(
      /nothing\.txt:5: deliver accept p1 -> a1\n {2}no held message matches\n {2}held:\n {4}heartbeat p1 -> a1 ballot=1\.p1/,
    );
  });

  it("reports unknown commands and options instead of ignoring them", () => {
    expect(() => runScenario("typo.txt", [...setup, "expect promised a1 balot=1.p1"].join("\n"))).toThrow(
      /typo\.txt:5: [^]*missing ballot=/,
    );
    expect(() => runScenario("typo.txt", [...setup, "delive-all accept"].join("\n"))).toThrow(
      /typo\.txt:5: [^]*unknown command delive-all/,
    );
    expect(() => runScenario("typo.txt", [...setup, "expect held accept cnt=1"].join("\n"))).toThrow(
      /typo\.txt:5: [^]*missing count=/,
    );
  });

  it("passes a transcript whose expectations hold", () => {
    const text = [...setup, "expect role p1 leader ballot=1.p1 leader=p1", "expect held heartbeat p1 -> l1 count=1"];
    expect(() => runScenario("right.txt", text.join("\n"))).not.toThrow();
  });
});
