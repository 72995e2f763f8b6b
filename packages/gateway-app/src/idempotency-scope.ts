import { createHash } from "node:crypto";

/*
 * An Idempotency-Key belongs to the client that sent it. The request id a keyed proposal carries
 * into the log is derived from the client id and the key, so that two clients using the same key
 * make two requests, and a client that sends another client's key (to replay it, or to learn its
 * outcome) makes a new request of its own: it can never reach the other client's entry.
 *
 * The id is base64url(SHA-256(clientId NUL key)), 43 characters whatever the lengths, within the
 * wire's REQUEST_ID_CHARS_MAX (200), which `<client>/<key>` (up to 256 + 1 + 200 characters)
 * would not fit. The NUL keeps the pair unambiguous: a key never holds one. The ids are not
 * secret: a client that knows its own id can compute the ids of its keyed entries in the log.
 */

/** The request id of a proposal that `clientId` sent with `idempotencyKey`. */
export function scopedRequestId(clientId: string, idempotencyKey: string): string {
  return createHash("sha256").update(clientId).update("\0").update(idempotencyKey).digest("base64url");
}
