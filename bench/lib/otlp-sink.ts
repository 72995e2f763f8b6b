import { createServer, type IncomingMessage, type ServerResponse } from "node:http";

/** What an OTLP sink has received so far. Subtract two snapshots to get a window. */
export interface OtlpSinkCounts {
  /** POST /v1/traces requests answered 200. */
  readonly exportRequests: number;
  /** Body bytes of those requests, as they arrived (compressed, if the exporter compressed). */
  readonly bytesReceived: number;
  /** Requests to any other method or path (answered 404): a misconfigured exporter shows here. */
  readonly otherRequests: number;
}

/** A running OTLP/HTTP trace receiver that keeps nothing but counts. */
export interface OtlpSink {
  /** The base URL to give as OTEL_EXPORTER_OTLP_ENDPOINT (the SDK appends /v1/traces). */
  readonly endpoint: string;
  counts(): OtlpSinkCounts;
  /** Stops listening and drops open connections. */
  close(): Promise<void>;
}

/**
 * Starts an OTLP/HTTP trace receiver on a free loopback port: it accepts POST /v1/traces in any
 * content type, reads and discards the body, and answers 200 with an empty export response
 * (`{}` for application/json, an empty body for application/x-protobuf, which decodes as an
 * empty ExportTraceServiceResponse). It stands in for a collector, so that exporting costs the
 * services what it costs against a real one, without a collector's own CPU on this machine.
 */
export async function startOtlpSink(): Promise<OtlpSink> {
  let exportRequests = 0;
  let bytesReceived = 0;
  let otherRequests = 0;

  const handle = (request: IncomingMessage, response: ServerResponse): void => {
    const path = (request.url ?? "").split("?")[0];
    if (request.method !== "POST" || path !== "/v1/traces") {
      otherRequests++;
      request.resume();
      response.writeHead(404).end();
      return;
    }
    let bytes = 0;
    request.on("data", (chunk: Buffer) => {
      bytes += chunk.length;
    });
    request.on("end", () => {
      exportRequests++;
      bytesReceived += bytes;
      const json = (request.headers["content-type"] ?? "").toLowerCase().includes("json");
      if (json) response.writeHead(200, { "content-type": "application/json" }).end("{}");
      else response.writeHead(200, { "content-type": "application/x-protobuf" }).end();
    });
    request.on("error", () => response.destroy());
  };

  const server = createServer(handle);
  const port = await new Promise<number>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      if (address === null || typeof address === "string") reject(new Error("the OTLP sink got no port"));
      else resolve(address.port);
    });
  });

  return {
    endpoint: `http://127.0.0.1:${port}`,
    counts: () => ({ exportRequests, bytesReceived, otherRequests }),
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** The counts received between two snapshots. */
export function countsBetween(before: OtlpSinkCounts, after: OtlpSinkCounts): OtlpSinkCounts {
  return {
    exportRequests: after.exportRequests - before.exportRequests,
    bytesReceived: after.bytesReceived - before.bytesReceived,
    otherRequests: after.otherRequests - before.otherRequests,
  };
}
