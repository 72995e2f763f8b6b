import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { listenPort } from "./listen-port.ts";

describe("listenPort", () => {
  it("picks distinct ports below the kernel's ephemeral range", async () => {
    const ephemeralMin = Number(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0]);
    // One after another, as the launcher picks them, nothing bound in between; enough picks that
    // two random draws from ~20k ports would meet in about 97 % of runs, were they not kept apart.
    const ports: number[] = [];
    for (let i = 0; i < 400; i++) ports.push(await listenPort());
    expect(new Set(ports).size).toBe(ports.length);
    for (const port of ports) {
      expect(port).toBeGreaterThanOrEqual(10_000);
      expect(port).toBeLessThan(ephemeralMin);
    }
  });
});
