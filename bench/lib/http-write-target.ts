import { Client } from "undici";
import { KEEP_ALIVE_TIMEOUT_MS, REQUEST_TIMEOUT_SECONDS } from "./bench-limits.ts";
import type { BenchWrite } from "./bench-write.ts";
import type { WriteChannel, WriteOutcome, WriteTarget } from "./write-target.ts";

/** How writes go to one HTTP API. */
export interface HttpWriteApi {
  /** Scheme, host and port, e.g. http://127.0.0.1:2379. */
  readonly origin: string;
  /** The path every write is POSTed to. */
  readonly path: string;
  /** Headers of every request (content type, bearer token). */
  readonly headers: Readonly<Record<string, string>>;
  /** The request body for one write. */
  readonly body: (write: BenchWrite) => string;
  /** What an answer means: the acknowledgement's position and id, or the kind of failure. */
  readonly answer: (statusCode: number, body: string, write: BenchWrite) => WriteOutcome;
}

/**
 * A WriteTarget over HTTP/1.1 with undici: each channel is one `undici.Client` (one keep-alive
 * connection, no pipelining), so a closed-loop client or an outstanding open-loop request is one
 * connection, as a real client's would be. Every request may take REQUEST_TIMEOUT_SECONDS for
 * its headers and again for its body.
 */
export function httpWriteTarget(api: HttpWriteApi): WriteTarget {
  return {
    description: `POST ${api.origin}${api.path}`,
    openChannel: () => new HttpWriteChannel(api),
  };
}

class HttpWriteChannel implements WriteChannel {
  readonly #api: HttpWriteApi;
  readonly #client: Client;

  constructor(api: HttpWriteApi) {
    this.#api = api;
    this.#client = new Client(api.origin, {
      pipelining: 1,
      headersTimeout: REQUEST_TIMEOUT_SECONDS * 1000,
      bodyTimeout: REQUEST_TIMEOUT_SECONDS * 1000,
      connectTimeout: REQUEST_TIMEOUT_SECONDS * 1000,
      keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
    });
  }

  async send(write: BenchWrite, signal: AbortSignal): Promise<WriteOutcome> {
    try {
      const response = await this.#client.request({
        method: "POST",
        path: this.#api.path,
        headers: this.#api.headers,
        body: this.#api.body(write),
        signal,
      });
      const text = await response.body.text();
      return this.#api.answer(response.statusCode, text, write);
    } catch (error) {
      return { ok: false, error: requestErrorKind(error) };
    }
  }

  async close(): Promise<void> {
    await this.#client.close().catch(() => this.#client.destroy());
  }
}

/** A short name for why a request got no answer, from undici's error codes and Node's errno. */
export function requestErrorKind(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  const name = error instanceof Error ? error.name : "";
  switch (code) {
    case "UND_ERR_HEADERS_TIMEOUT":
    case "UND_ERR_BODY_TIMEOUT":
      return "timeout";
    case "UND_ERR_CONNECT_TIMEOUT":
      return "connect timeout";
    case "ECONNREFUSED":
      return "connection refused";
    case "ECONNRESET":
    case "UND_ERR_SOCKET":
      return "connection reset";
    case "UND_ERR_ABORTED":
      return "aborted";
    default:
      if (name === "AbortError") return "aborted";
      return typeof code === "string" ? code : name !== "" ? name : "error";
  }
}
