/**
 * Throws `error` from a fresh microtask, out of the bus callback that caught it, so that it
 * reaches the process's uncaught-exception handling: the default for handler errors, since a
 * broken invariant must stop the process rather than be swallowed by a message loop.
 */
export function rethrowLater(error: unknown): void {
  queueMicrotask(() => {
    throw error;
  });
}
