type Truthy<T> = Exclude<T, false | undefined | null | 0 | ''>;

/**
 * Polls a condition until it holds and returns what it returned; fails naming
 * what it waited for. Waiting for a condition rather than for a time keeps a
 * slow machine from turning into a failure.
 */
export async function waitFor<T>(what: string, check: () => T | Promise<T>, timeoutMs = 20_000, everyMs = 25): Promise<Truthy<T>> {
  const start = Date.now();
  for (;;) {
    const value = await check();
    if (value) return value as Truthy<T>;
    if (Date.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
