/** Scope a caller needs for tools that only read. */
export const SCOPE_READ = 'homelab:read';
/** Scope a caller needs for tools that can change something (the contract's read_only is false). */
export const SCOPE_WRITE = 'homelab:write';
export const ALL_SCOPES = [SCOPE_READ, SCOPE_WRITE] as const;

/** Who is calling, as established at the HTTP edge; never carries the credential itself. */
export interface Principal {
  /** Stable name: plans, sessions, limits and audit lines are keyed by it. */
  subject: string;
  scopes: string[];
  /** The OAuth client the token was issued to, when known. */
  clientId?: string;
  /** Token expiry (seconds since the epoch), when known. */
  expiresAt?: number;
}

/** The scope a tool needs, from its annotations (derived from the proto tool options). */
export function scopeFor(annotations: { readOnlyHint?: boolean } | undefined): string {
  return annotations?.readOnlyHint === true ? SCOPE_READ : SCOPE_WRITE;
}

/** Whether the caller may see and call a tool with these annotations. */
export function mayUse(scopes: readonly string[], annotations: { readOnlyHint?: boolean } | undefined): boolean {
  return scopes.includes(scopeFor(annotations));
}
