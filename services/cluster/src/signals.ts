/**
 * Resolves on the first SIGINT or SIGTERM. Later signals only print that stopping is under way:
 * the launcher always finishes stopping what it started (children get SIGKILL after their bound).
 */
export function waitForSignal(say: (line: string) => void): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    let count = 0;
    const onSignal = (signal: NodeJS.Signals): void => {
      count++;
      if (count === 1) {
        say(`${signal}: stopping`);
        resolve(signal);
      } else {
        say(`${signal} again: still stopping`);
      }
    };
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
  });
}
