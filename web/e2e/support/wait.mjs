/**
 * Polls `check` until it returns something truthy (and returns it), or fails naming `what`.
 * `describe`, when given, is called on a timeout and its answer goes into the error (what
 * was last seen, a service's log tail), so a failure in CI says more than "timed out".
 */
export async function waitFor(check, what, timeoutMs = 60_000, everyMs = 50, describe = null) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) {
      const detail = describe ? `\n${await describe()}` : '';
      throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}${detail}`);
    }
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}
