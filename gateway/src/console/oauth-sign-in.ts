import { createHash, randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { discoverEndpoint, TokenRejectedError, type OAuthSettings } from '../trust/oauth.js';
import { ALL_SCOPES } from '../trust/principal.js';
import { cookieOf, httpOnlyCookie } from './console-sessions.js';

export const STATE_COOKIE = 'homelab_console_oauth';
/** How long a person may take at Authentik's login. */
const FLOW_MS = 10 * 60_000;
const TOKEN_TIMEOUT_MS = 10_000;

/** Why a sign-in through Authentik did not complete, for the person who tried. */
export class SignInFailedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SignInFailedError';
  }
}

/**
 * The console's sign-in through Authentik (GATEWAY_AUTH=oauth): the
 * authorization code flow with PKCE (S256), the gateway as a public client.
 * The state is bound to the browser by a short-lived cookie (SameSite=Lax:
 * the way back from Authentik is a cross-site navigation); the access token
 * it gets is checked like any bearer token and only its subject and scopes
 * are kept, in a console session.
 */
export class OAuthSignIn {
  private readonly flows = new Map<string, { verifier: string; expiresAt: number }>();

  constructor(
    private readonly settings: OAuthSettings,
    private readonly clientId: string,
    private readonly redirectUri: () => string,
    private readonly secureCookie: boolean,
  ) {}

  /** Where to send the browser, and the cookie that ties the flow to it. */
  async start(): Promise<{ location: string; cookie: string }> {
    const now = Date.now();
    for (const [k, f] of this.flows) if (now > f.expiresAt) this.flows.delete(k);
    const state = randomBytes(24).toString('base64url');
    const verifier = randomBytes(32).toString('base64url');
    this.flows.set(state, { verifier, expiresAt: now + FLOW_MS });
    const authorize = new URL(await discoverEndpoint(this.settings.issuer, 'authorization_endpoint', 'check GATEWAY_OAUTH_ISSUER'));
    authorize.search = new URLSearchParams({
      response_type: 'code',
      client_id: this.clientId,
      redirect_uri: this.redirectUri(),
      scope: ['openid', ...ALL_SCOPES].join(' '),
      state,
      code_challenge: createHash('sha256').update(verifier).digest('base64url'),
      code_challenge_method: 'S256',
    }).toString();
    return { location: authorize.href, cookie: this.cookie(state, Math.floor(FLOW_MS / 1000)) };
  }

  /** The access token for the code Authentik sent back, once the state matches this browser's flow. */
  async finish(req: IncomingMessage, url: URL): Promise<string> {
    const q = url.searchParams;
    if (q.get('error')) throw new SignInFailedError(`Authentik did not sign you in: ${q.get('error_description') ?? q.get('error')}`);
    const state = q.get('state') ?? '';
    const flow = this.flows.get(state);
    this.flows.delete(state);
    if (!flow || cookieOf(req, STATE_COOKIE) !== state || Date.now() > flow.expiresAt) {
      throw new SignInFailedError('this sign-in was not started in this browser, or it took longer than 10 minutes; start again from the console');
    }
    const tokenUrl = await discoverEndpoint(this.settings.issuer, 'token_endpoint', 'check GATEWAY_OAUTH_ISSUER');
    const res = await fetch(tokenUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: new URLSearchParams({ grant_type: 'authorization_code', code: q.get('code') ?? '', redirect_uri: this.redirectUri(), client_id: this.clientId, code_verifier: flow.verifier }),
      signal: AbortSignal.timeout(TOKEN_TIMEOUT_MS),
    }).catch((err: unknown) => {
      throw new TokenRejectedError(`cannot reach Authentik's token endpoint ${tokenUrl} (${(err as Error).message}); retry shortly`, 503);
    });
    const body = (await res.json().catch(() => ({}))) as { access_token?: unknown; error?: unknown; error_description?: unknown };
    if (!res.ok || typeof body.access_token !== 'string') {
      throw new SignInFailedError(`Authentik refused the code: ${String(body.error_description ?? body.error ?? `HTTP ${res.status}`)}`);
    }
    return body.access_token;
  }

  /** Clears the flow's cookie. */
  clearCookie(): string {
    return this.cookie('', 0);
  }

  private cookie(value: string, maxAgeSeconds: number): string {
    return httpOnlyCookie(STATE_COOKIE, value, { path: '/console/oauth', sameSite: 'Lax', maxAgeSeconds, secure: this.secureCookie });
  }
}
