import { mayUse, scopeFor } from '../trust/principal.js';
import { errorResult } from './results.js';
import type { CallTarget, Stage } from './tool-call.js';

/** The caller's scopes allow the tool: homelab:read for read-only tools, homelab:write for the rest. */
export const authorize: Stage<CallTarget> = {
  name: 'authorize',
  run(call) {
    const { scopes } = call.ctx;
    if (mayUse(scopes, call.annotations)) return;
    const needed = scopeFor(call.annotations);
    return {
      outcome: { kind: 'refused', reason: `scope: missing ${needed}` },
      answer: errorResult(
        `Refused: ${call.name} ${needed === 'homelab:write' ? 'can change something and ' : ''}needs the ${needed} scope; this caller has ${scopes.join(', ') || 'no scope'}.\nWhat to do: use a token that grants ${needed} (in Authentik, add a scope mapping for it to the gateway's provider).`,
        { code: 'PERMISSION_DENIED', reason: 'MISSING_SCOPE', scope: needed },
      ),
    };
  },
};
