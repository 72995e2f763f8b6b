import type { Request, Response } from "express";
import type { ClusterPort, LogEntryView } from "./cluster-port.ts";
import type { GatewayLimits } from "./gateway-limits.ts";

/** A running stream, as the app tracks it to end it on close. */
export interface LogStreamHandle {
  /** Ends the stream (idempotent); resolves once its pump has stopped. */
  end(): Promise<void>;
}

/**
 * Serves `GET /v1/log/stream` on `res` as Server-Sent Events: one event per decided entry from
 * index `from` on, `id:` the index and `data:` the entry as JSON, in index order without gaps or
 * repeats. It subscribes to live deliveries first and buffers them, then sends the backlog by
 * paged range reads, then the live entries; a live entry beyond a gap (a lost delivery event, or
 * learners at different points) is held until a range read fills the gap. Comments keep idle
 * proxies open. Ends when the client disconnects or `end()` is called. The caller has validated
 * `from` and answered any error before; from here on the status is 200.
 */
export function startLogStream(options: {
  readonly req: Request;
  readonly res: Response;
  readonly from: number;
  readonly cluster: ClusterPort;
  readonly limits: GatewayLimits;
  readonly onEnd: () => void;
}): LogStreamHandle {
  const { req, res, cluster, limits } = options;
  let next = options.from;
  /** Live entries at `next` or later, by index; bounded, overflow is read back later. */
  const held = new Map<number, LogEntryView>();
  let mustRead = true;
  let open = true;
  let wake: (() => void) | null = null;
  const poke = (): void => {
    const w = wake;
    wake = null;
    w?.();
  };

  const unsubscribe = cluster.onDelivery((event) => {
    if (!open || event.kind !== "delivered" || event.value === undefined || event.index < next) return;
    if (held.size < limits.streamBufferedEntriesMax) {
      held.set(event.index, { index: event.index, value: event.value, requestId: event.requestId });
    } else {
      mustRead = true;
    }
    poke();
  });

  res.status(200);
  res.setHeader("Content-Type", "text/event-stream; charset=utf-8");
  res.setHeader("Cache-Control", "no-cache, no-transform");
  res.setHeader("Connection", "keep-alive");
  // nginx buffers proxied responses unless told not to; a buffered stream is no stream.
  res.setHeader("X-Accel-Buffering", "no");
  res.flushHeaders();
  // How long an EventSource waits before it reconnects (with Last-Event-ID) after a drop.
  res.write(`retry: ${limits.retryAfterSeconds * 1000}\n\n`);

  const keepalive = setInterval(() => {
    if (open) res.write(": keepalive\n\n");
  }, limits.streamKeepaliveMs);

  let stopped: () => void = () => undefined;
  const pumpDone = new Promise<void>((resolve) => {
    stopped = resolve;
  });

  const stop = (): void => {
    if (!open) return;
    open = false;
    clearInterval(keepalive);
    unsubscribe();
    held.clear();
    poke();
  };
  req.once("close", stop);
  res.once("close", stop);

  /** Writes one event; waits while the socket's buffer is full, so a slow reader holds no memory. */
  const send = async (entry: LogEntryView): Promise<void> => {
    const flushed = res.write(`id: ${entry.index}\ndata: ${JSON.stringify(entry)}\n\n`);
    next = entry.index + 1;
    if (!flushed && open) {
      await new Promise<void>((resolve) => {
        const done = (): void => {
          res.off("drain", done);
          res.off("close", done);
          resolve();
        };
        res.once("drain", done);
        res.once("close", done);
      });
    }
  };

  const pause = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      const timer = setTimeout(() => {
        wake = null;
        resolve();
      }, ms);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });

  const pump = async (): Promise<void> => {
    while (open) {
      for (let entry = held.get(next); entry !== undefined && open; entry = held.get(next)) {
        held.delete(next);
        await send(entry);
      }
      for (const index of held.keys()) if (index < next) held.delete(index);
      if (!open) break;
      if (!mustRead && held.size === 0) {
        await pause(limits.streamKeepaliveMs);
        continue;
      }
      // Backlog, an overflow, or a gap before held entries: read from the learners.
      mustRead = false;
      const page = await cluster.readRange(next, limits.streamPageLimit);
      let sent = 0;
      for (const entry of page.result.entries) {
        if (!open || entry.index !== next) break;
        held.delete(entry.index);
        await send(entry);
        sent++;
      }
      if (page.answered === 0 || (sent === 0 && held.size > 0)) {
        // No learner answered, or none has the gap yet: ask again shortly, or sooner if a live
        // entry arrives.
        mustRead = true;
        if (open) await pause(limits.streamGapRetryMs);
      } else if (sent === limits.streamPageLimit) {
        mustRead = true;
      }
    }
  };

  void pump()
    .catch(() => undefined)
    .finally(() => {
      stop();
      if (!res.writableEnded) res.end();
      options.onEnd();
      stopped();
    });

  return {
    end: async () => {
      stop();
      await pumpDone;
    },
  };
}
