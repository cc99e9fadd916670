/** The most values a completion answers with (MCP clients show no more than 100). */
export const MAX_COMPLETIONS = 100;

/**
 * A completion/complete answer from the values a shard knows: those starting
 * with what was typed (case-insensitive), each once, in the order given (a
 * shard puts the likeliest first), at most MAX_COMPLETIONS with the total.
 */
export function completeFrom(values: Iterable<string>, typed: string): { values: string[]; total: number; hasMore: boolean } {
  const prefix = typed.toLowerCase();
  const all = [...new Set(values)].filter((v) => v.toLowerCase().startsWith(prefix));
  return { values: all.slice(0, MAX_COMPLETIONS), total: all.length, hasMore: all.length > MAX_COMPLETIONS };
}
