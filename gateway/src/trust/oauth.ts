import type * as JoseModule from 'jose';
import type { JWTPayload, JWTVerifyGetKey } from 'jose';

type Jose = typeof JoseModule;
/** Loaded with the first OAuth token: a gateway on a static token never needs it (about 9 MB of a small node's memory). */
let jose: Promise<Jose> | undefined;
const loadJose = (): Promise<Jose> => (jose ??= import('jose'));
import { ALL_SCOPES, type Principal } from './principal.js';

export interface OAuthSettings {
  /** The authorization server's issuer, exactly as its tokens carry it (Authentik: https://auth.example/application/o/<slug>/). */
  issuer: string;
  /** `aud` values accepted: the gateway's client ID at the authorization server and/or its resource URL. */
  audience: readonly string[];
  /** Where the signing keys are; discovered from the issuer's openid-configuration when absent. */
  jwksUrl?: string;
  /** Tolerated clock difference with the authorization server. */
  clockToleranceSeconds: number;
}

/** Why a bearer token was not accepted: `status` 401 (token problem) or 503 (keys unreachable). */
export class TokenRejectedError extends Error {
  constructor(
    message: string,
    readonly status: 401 | 503 = 401,
  ) {
    super(message);
    this.name = 'TokenRejectedError';
  }
}

const DISCOVERY_TIMEOUT_MS = 5000;

function scopesOf(payload: JWTPayload): string[] {
  const raw = payload.scope ?? payload.scp;
  if (typeof raw === 'string') return raw.split(/\s+/).filter(Boolean);
  if (Array.isArray(raw)) return raw.filter((s): s is string => typeof s === 'string');
  return [];
}

function explain(err: unknown, settings: OAuthSettings, { errors }: Jose): TokenRejectedError {
  if (err instanceof TokenRejectedError) return err;
  if (err instanceof errors.JWTExpired) return new TokenRejectedError('the access token expired; get a new one from the authorization server');
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.claim === 'aud') return new TokenRejectedError(`the access token was issued for another audience, not this gateway (accepted: ${settings.audience.join(', ')})`);
    if (err.claim === 'iss') return new TokenRejectedError(`the access token comes from another issuer, not ${settings.issuer}`);
    if (err.claim === 'nbf') return new TokenRejectedError('the access token is not valid yet (check the clocks)');
    return new TokenRejectedError(`the access token's "${err.claim}" claim is not acceptable: ${err.reason}`);
  }
  if (err instanceof errors.JWSSignatureVerificationFailed || err instanceof errors.JWKSNoMatchingKey) {
    return new TokenRejectedError("the access token's signature does not match the issuer's keys");
  }
  if (err instanceof errors.JWKSTimeout || err instanceof errors.JWKSInvalid || (err instanceof Error && /fetch|ECONNREFUSED|ENOTFOUND|network/i.test(err.message))) {
    return new TokenRejectedError(`cannot fetch the issuer's signing keys (${err.message}); retry shortly`, 503);
  }
  if (err instanceof errors.JOSEError) return new TokenRejectedError(`the access token is not a valid JWT (${err.code})`);
  return new TokenRejectedError(`the access token could not be verified: ${(err as Error).message}`);
}

/**
 * One endpoint of the issuer's discovery document (jwks_uri,
 * authorization_endpoint, token_endpoint); a 503 TokenRejectedError saying
 * what to do when it cannot be read.
 */
export async function discoverEndpoint(issuer: string, key: string, otherwise: string): Promise<string> {
  const discovery = new URL('.well-known/openid-configuration', issuer.endsWith('/') ? issuer : `${issuer}/`);
  const res = await fetch(discovery, { signal: AbortSignal.timeout(DISCOVERY_TIMEOUT_MS) }).catch((err: unknown) => {
    throw new TokenRejectedError(`cannot reach the issuer's discovery document ${discovery.href} (${(err as Error).message}); retry shortly`, 503);
  });
  const doc = (await res.json().catch(() => undefined)) as Record<string, unknown> | undefined;
  const value = doc?.[key];
  if (!res.ok || typeof value !== 'string') throw new TokenRejectedError(`the issuer's discovery document ${discovery.href} has no ${key} (HTTP ${res.status}); ${otherwise}`, 503);
  return value;
}

/**
 * OAuth 2.1 resource-server side: verifies a JWT access token against the
 * issuer's JWKS (fetched and cached by jose, refreshed on an unknown key id),
 * checking signature, issuer, audience and expiry. The token itself stays
 * here: only the subject and scopes travel on.
 */
export function createJwtVerifier(settings: OAuthSettings): (token: string) => Promise<Principal> {
  let keys: Promise<JWTVerifyGetKey> | undefined;
  const loadKeys = async (): Promise<JWTVerifyGetKey> => {
    const url = settings.jwksUrl ?? (await discoverEndpoint(settings.issuer, 'jwks_uri', 'set GATEWAY_OAUTH_JWKS_URL'));
    return (await loadJose()).createRemoteJWKSet(new URL(url), { timeoutDuration: DISCOVERY_TIMEOUT_MS, cooldownDuration: 30_000 });
  };

  return async (token) => {
    try {
      keys ??= loadKeys().catch((err: unknown) => {
        keys = undefined; // try discovery again on the next request
        throw err;
      });
      const { payload } = await (await loadJose()).jwtVerify(token, await keys, {
        issuer: settings.issuer,
        audience: [...settings.audience],
        clockTolerance: settings.clockToleranceSeconds,
        requiredClaims: ['exp', 'sub'],
      });
      const scopes = scopesOf(payload).filter((s) => (ALL_SCOPES as readonly string[]).includes(s));
      return { subject: `oauth:${payload.sub}`, scopes, ...(typeof payload.azp === 'string' ? { clientId: payload.azp } : {}), ...(payload.exp ? { expiresAt: payload.exp } : {}) };
    } catch (err) {
      throw explain(err, settings, await loadJose());
    }
  };
}
