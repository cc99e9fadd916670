/**
 * Lets `graceful` finish for up to `graceMs`, then calls `force` (and resolves
 * once it has run): in-flight work gets its grace period, a stuck one does not
 * hold up the exit. Resolves with how it ended.
 */
export function drain(graceful: Promise<unknown>, force: () => unknown, graceMs: number): Promise<'drained' | 'forced'> {
  let timer: NodeJS.Timeout | undefined;
  const forced = new Promise<'forced'>((resolve) => {
    timer = setTimeout(() => resolve(Promise.resolve(force()).then(() => 'forced' as const)), graceMs);
  });
  const drained = graceful.then(() => 'drained' as const);
  return Promise.race([drained, forced]).finally(() => clearTimeout(timer));
}
