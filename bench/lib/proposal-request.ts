import type { LoadRequest } from "./measure-row.ts";

/**
 * POST /v1/proposals with `{"value": "<valueBytes ASCII characters>"}`, no Idempotency-Key (each
 * request is a new proposal), success = 201 (chosen and delivered).
 */
export function proposalRequest(valueBytes: number): LoadRequest {
  const value = "bench-value-".padEnd(valueBytes, "x").slice(0, valueBytes);
  return {
    method: "POST",
    path: "/v1/proposals",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ value }),
    expectedStatus: 201,
  };
}
