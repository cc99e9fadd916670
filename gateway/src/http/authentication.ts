import type { IncomingMessage, ServerResponse } from 'node:http';
import type { GatewayConfig } from '../config.js';
import { bearerToken, createTokenChecker, subjectOfToken } from '../mcp/auth.js';
import { createJwtVerifier, TokenRejectedError } from '../trust/oauth.js';
import { ALL_SCOPES, SCOPE_READ, type Principal } from '../trust/principal.js';
import { rpcError, sendJson } from './responses.js';

export type Authenticate = (header: string | undefined) => Promise<Principal>;

/** Who holds the request's credential: everyone (auth off, loopback only), the static token's holder, or an OAuth access token's subject. */
export function createAuthenticator(config: GatewayConfig, token: string | undefined): Authenticate {
  if (config.auth.mode === 'none') {
    const local: Principal = { subject: 'local', scopes: [...ALL_SCOPES] };
    return () => Promise.resolve(local);
  }
  if (config.auth.mode === 'oauth') {
    const oauth = config.auth.oauth;
    if (!oauth) throw new Error('GATEWAY_AUTH=oauth needs GATEWAY_OAUTH_ISSUER and GATEWAY_OAUTH_AUDIENCE');
    const verify = createJwtVerifier(oauth);
    return async (header) => {
      const presented = bearerToken(header);
      if (presented === undefined) throw new TokenRejectedError(`send Authorization: Bearer <access token from ${oauth.issuer}>`);
      return verify(presented);
    };
  }
  if (!token) throw new Error('GATEWAY_AUTH=token needs a token');
  const check = createTokenChecker(token);
  const principal: Principal = { subject: subjectOfToken(token), scopes: [...ALL_SCOPES] };
  return (header) => {
    if (check(header)) return Promise.resolve(principal);
    return Promise.reject(
      new TokenRejectedError(header === undefined ? 'send Authorization: Bearer <token> (the token is in the gateway data dir; `npx homelab-mcp token` prints it)' : 'the bearer token is wrong'),
    );
  };
}

/**
 * The caller of a request, or undefined when it was answered here: 401 with a
 * challenge that says why (and, with OAuth, where to get a token), 403 for a
 * token without any homelab scope, 503 when the issuer's keys are out of reach.
 */
export async function authenticateRequest(req: IncomingMessage, res: ServerResponse, authenticate: Authenticate, challenge: (extra: string) => string): Promise<Principal | undefined> {
  let principal: Principal;
  try {
    principal = await authenticate(req.headers.authorization);
  } catch (err) {
    if (!(err instanceof TokenRejectedError)) throw err;
    if (err.status === 503) {
      sendJson(res, 503, rpcError(-32000, `Service Unavailable: ${err.message}`), { 'retry-after': '5' });
      return undefined;
    }
    const given = req.headers.authorization !== undefined;
    const description = err.message.replace(/"/g, "'");
    sendJson(res, 401, rpcError(-32001, `Unauthorized: ${err.message}`), {
      'www-authenticate': challenge(given ? `, error="invalid_token", error_description="${description}"` : ''),
    });
    return undefined;
  }
  if (principal.scopes.length === 0) {
    sendJson(res, 403, rpcError(-32001, `Forbidden: the access token grants none of ${ALL_SCOPES.join(', ')}; ask for a token with ${SCOPE_READ} (and homelab:write to change things)`), {
      'www-authenticate': challenge(`, error="insufficient_scope"`),
    });
    return undefined;
  }
  return principal;
}
