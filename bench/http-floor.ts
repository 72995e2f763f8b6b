// The floor under any REST gateway on this machine: a server with no consensus, which reads the
// JSON body and answers 201 with an entry as the gateway does, driven by the same closed-loop load
// (undici, one keep-alive connection per client) and CPU accounting as `npm run bench`. Two
// servers, one after the other: bare node:http, and express 5 with express.json() (what the
// gateway is built on). What they measure bounds what a Node gateway can reach here, shows what
// express itself costs, and what the load generator takes from the two shared cores.
//
//   npm run bench:floor [-- --clients 1,64,256 --duration 5 --warmup 2]
//
// Each server is this file run with --serve PORT --server KIND, a child of the bench; it is
// killed when done.
import { type ChildProcess, spawn } from "node:child_process";
import express from "express";
import { createServer, type Server } from "node:http";
import { once } from "node:events";
import { parseArgs } from "node:util";
import { BenchWriteSource } from "./lib/bench-write.ts";
import { listenPort } from "@paxos/host";
import { httpWriteTarget } from "./lib/http-write-target.ts";
import { sampleCpu } from "./lib/process-cpu.ts";
import { formatNumber, formatTable } from "./lib/text-table.ts";
import { runClosedLoopLoad } from "./lib/write-load.ts";

/** The size of every value, as in the comparison with etcd. */
const VALUE_BYTES = 100;

const { values } = parseArgs({
  options: {
    serve: { type: "string" },
    server: { type: "string", default: "node" },
    clients: { type: "string", default: "1,64,256" },
    duration: { type: "string", default: "5" },
    warmup: { type: "string", default: "2" },
  },
});

/** The servers measured, in order: how each is named in the table and built. */
const SERVERS = {
  node: { label: "node:http", build: nodeServer },
  express: { label: "express 5", build: expressServer },
} as const;
type ServerKind = keyof typeof SERVERS;

if (values.serve !== undefined) {
  if (!Object.hasOwn(SERVERS, values.server)) {
    console.error(`--server must be one of ${Object.keys(SERVERS).join(", ")}, not ${values.server}`);
    process.exit(2);
  }
  const server = SERVERS[values.server as ServerKind].build();
  server.keepAliveTimeout = 60_000;
  server.listen(Number(values.serve), "127.0.0.1", () => process.stdout.write("listening\n"));
} else {
  await measure();
}

function nodeServer(): Server {
  let index = 0;
  return createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { value: unknown };
      const at = index++;
      const text = JSON.stringify({ index: at, value: body.value, requestId: `r-${at}` });
      res.writeHead(201, {
        "content-type": "application/json; charset=utf-8",
        "content-length": Buffer.byteLength(text),
        location: `/v1/log/${at}`,
      });
      res.end(text);
    });
  });
}

/** The same answer through express 5, with the gateway's settings: no ETag, no X-Powered-By. */
function expressServer(): Server {
  let index = 0;
  const app = express();
  app.disable("x-powered-by");
  app.set("etag", false);
  app.post("/v1/proposals", express.json(), (req, res) => {
    const at = index++;
    res.setHeader("Location", `/v1/log/${at}`);
    res.status(201).json({ index: at, value: (req.body as { value: unknown }).value, requestId: `r-${at}` });
  });
  return createServer(app);
}

async function measure(): Promise<void> {
  const clientCounts = values.clients.split(",").map(Number);
  const durationMs = Number(values.duration) * 1000;
  const warmupMs = Number(values.warmup) * 1000;
  if (clientCounts.some((n) => !Number.isSafeInteger(n) || n < 1) || !(durationMs > 0) || !(warmupMs >= 0)) {
    console.error("usage: npm run bench:floor [-- --clients 1,64,256 --duration S --warmup S]");
    process.exit(2);
  }
  const rows: string[][] = [];
  for (const kind of Object.keys(SERVERS) as ServerKind[]) {
    const port = await listenPort();
    const child: ChildProcess = spawn(
      process.execPath,
      [import.meta.filename, "--serve", String(port), "--server", kind],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    const kill = (): boolean => child.kill("SIGKILL");
    process.once("exit", kill);
    await once(child.stdout ?? child, "data");
    const pid = child.pid ?? 0;
    try {
      for (const clients of clientCounts) {
        console.log(
          `[floor] ${kind}, ${clients} clients: ${warmupMs / 1000} s warm-up, ${durationMs / 1000} s measured`,
        );
        const result = await runClosedLoopLoad({
          target: httpWriteTarget({
            origin: `http://127.0.0.1:${port}`,
            path: "/v1/proposals",
            // What the bench sends our gateway: a bearer token of the same length, the same body.
            headers: { "content-type": "application/json", authorization: `Bearer ${"t".repeat(43)}` },
            body: (write) => JSON.stringify({ value: write.value }),
            answer: (status, text) => {
              if (status !== 201) return { ok: false, error: `status ${status}` };
              const answer = JSON.parse(text) as { index: number; requestId: string };
              return { ok: true, position: answer.index, requestId: answer.requestId };
            },
          }),
          writes: new BenchWriteSource(`floor-${kind}-${clients}`, VALUE_BYTES),
          warmupMs,
          durationMs,
          clients,
          onAcknowledged: () => undefined,
          sampleSystemCpu: () => sampleCpu([pid]),
          progress: () => undefined,
          signal: new AbortController().signal,
        });
        const perK = (seconds: number): string => formatNumber((1000 * seconds) / Math.max(1, result.succeeded), 3);
        rows.push([
          SERVERS[kind].label,
          String(clients),
          formatNumber(result.writesPerSecond, 0),
          `${formatNumber(result.latencyMs?.p50 ?? null, 2)} / ${formatNumber(result.latencyMs?.p99 ?? null, 2)}`,
          String(result.errorCount),
          result.cpu === null ? "n/a" : perK(result.cpu.cpuSeconds),
          perK(result.generatorCpuSeconds),
        ]);
      }
    } finally {
      kill();
      process.off("exit", kill);
    }
  }
  console.log(
    "\nServers with no consensus, same load generator and CPU accounting as npm run bench:\n\n" +
      formatTable(
        [
          { header: "server", align: "left" },
          { header: "clients", align: "right" },
          { header: "requests/s", align: "right" },
          { header: "p50 / p99 ms", align: "right" },
          { header: "errors", align: "right" },
          { header: "server CPU-s per 1k", align: "right" },
          { header: "bench process CPU-s per 1k", align: "right" },
        ],
        rows,
      ),
  );
}
