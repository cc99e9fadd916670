import { createHash, randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { SignJWT, exportJWK, generateKeyPair, type JWK, type JWTPayload } from 'jose';
import { completeResponse, type AuthentikVersion } from './contract.js';

/** What a test asks the authorization server to issue. */
export interface AccessTokenRequest {
  /** The OAuth2 provider's application slug (its issuer is /application/o/<slug>/). */
  slug: string;
  /** The provider's client ID: Authentik puts it in `aud`. */
  clientId: string;
  /** The user the token is for (Authentik's default subject mode hashes the user id). */
  subject?: string;
  scopes: string[];
  /** Seconds from now; negative for a token that has already expired. */
  expiresInSeconds?: number;
  /** Override claims (a wrong audience or issuer, say). */
  claims?: JWTPayload;
  /** Sign with a key the JWKS does not publish (a forged token). */
  foreignKey?: boolean;
}

/**
 * A person signed in to Authentik who has authorized an application: the
 * authorization endpoint answers that application's requests for them
 * without a login page (the stand-in has no login flows).
 */
export interface OAuthLogin {
  slug: string;
  clientId: string;
  /** Where the provider may send the code (Authentik's redirect URIs, matched exactly). */
  redirectUris: string[];
  subject: string;
  /** The scopes the provider's scope mappings grant this person. */
  scopes: string[];
}

export interface OidcIssuer {
  issuerFor(slug: string): string;
  issue(request: AccessTokenRequest): Promise<string>;
  /** Who the authorization endpoint answers for (undefined: no one is signed in). */
  signIn(login: OAuthLogin | undefined): void;
  /** The authorization code flow with PKCE: /application/o/authorize/ and /application/o/token/; false for other paths. */
  handleCodeFlow(req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean>;
  /** Serves /application/o/<slug>/.well-known/openid-configuration and /application/o/<slug>/jwks/; false when the path is not one of them. */
  handle(path: string, res: ServerResponse): boolean;
}

const DISCOVERY = /^\/application\/o\/([a-z0-9_-]+)\/\.well-known\/openid-configuration$/;
const JWKS = /^\/application\/o\/([a-z0-9_-]+)\/jwks\/$/;

/**
 * Authentik's OAuth2/OpenID provider as a resource server sees it: per-provider
 * issuer URLs with a trailing slash, the discovery document (shaped by the
 * release's OpenIDConnectConfiguration schema), the JWKS with the signing key
 * (RS256, as Authentik's self-signed certificate), and access tokens with the
 * claims Authentik puts in them (iss, sub, aud = client ID, azp, scope, exp, iat, auth_time, jti).
 */
export async function createOidcIssuer(origin: () => string, version: AuthentikVersion): Promise<OidcIssuer> {
  const kid = randomBytes(16).toString('hex');
  const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
  const rogue = await generateKeyPair('RS256');
  const publicJwk: JWK = { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' };
  const issuerFor = (slug: string) => `${origin()}/application/o/${slug}/`;

  const reply = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
    res.end(JSON.stringify(body));
  };
  const send = (res: ServerResponse, body: unknown) => reply(res, 200, body);
  let login: OAuthLogin | undefined;
  const codes = new Map<string, { login: OAuthLogin; redirectUri: string; challenge: string; scopes: string[]; expiresAt: number }>();

  const issue = async (request: AccessTokenRequest) => {
    const now = Math.floor(Date.now() / 1000);
    const claims: JWTPayload = {
      iss: issuerFor(request.slug),
      sub: request.subject ?? randomBytes(32).toString('hex'),
      aud: request.clientId,
      azp: request.clientId,
      scope: request.scopes.join(' '),
      auth_time: now,
      jti: randomBytes(16).toString('hex'),
      ...request.claims,
    };
    return new SignJWT(claims)
      .setProtectedHeader({ alg: 'RS256', kid, typ: 'JWT' })
      .setIssuedAt(now)
      .setExpirationTime(now + (request.expiresInSeconds ?? 3600))
      .sign(request.foreignKey ? rogue.privateKey : privateKey);
  };

  // Authentik answers OAuth errors as RFC 6749 JSON (token endpoint) or on its own error page (authorization endpoint).
  const authorize = (url: URL, res: ServerResponse) => {
    const q = url.searchParams;
    const clientId = q.get('client_id') ?? '';
    const redirectUri = q.get('redirect_uri') ?? '';
    if (!login || login.clientId !== clientId) return reply(res, 400, { error: 'invalid_client', error_description: 'no signed-in user has authorized this client' });
    if (!login.redirectUris.includes(redirectUri)) return reply(res, 400, { error: 'invalid_request', error_description: 'Invalid redirect URI' });
    if (q.get('response_type') !== 'code' || q.get('code_challenge_method') !== 'S256' || !q.get('code_challenge')) {
      return reply(res, 400, { error: 'invalid_request', error_description: 'response_type=code with an S256 code_challenge is required' });
    }
    const asked = (q.get('scope') ?? '').split(' ').filter(Boolean);
    const code = randomBytes(24).toString('hex');
    codes.set(code, { login, redirectUri, challenge: q.get('code_challenge')!, scopes: asked.filter((s) => login!.scopes.includes(s)), expiresAt: Date.now() + 60_000 });
    const back = new URL(redirectUri);
    back.searchParams.set('code', code);
    if (q.get('state')) back.searchParams.set('state', q.get('state')!);
    res.writeHead(302, { location: back.href });
    res.end();
  };

  const exchange = async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req as AsyncIterable<Buffer>) chunks.push(chunk);
    const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
    const grant = codes.get(form.get('code') ?? '');
    codes.delete(form.get('code') ?? '');
    const invalid = (description: string) => reply(res, 400, { error: 'invalid_grant', error_description: description });
    if (form.get('grant_type') !== 'authorization_code') return reply(res, 400, { error: 'unsupported_grant_type' });
    if (!grant || Date.now() > grant.expiresAt) return invalid('The provided authorization grant or refresh token is invalid, expired, revoked');
    if (form.get('client_id') !== grant.login.clientId || form.get('redirect_uri') !== grant.redirectUri) return invalid('client or redirect URI does not match the authorization request');
    const verifier = form.get('code_verifier') ?? '';
    if (createHash('sha256').update(verifier).digest('base64url') !== grant.challenge) return invalid('The code_verifier does not match the code_challenge');
    const accessToken = await issue({ slug: grant.login.slug, clientId: grant.login.clientId, subject: grant.login.subject, scopes: grant.scopes });
    reply(res, 200, { access_token: accessToken, token_type: 'Bearer', expires_in: 3600, scope: grant.scopes.join(' ') });
  };

  return {
    issuerFor,
    issue,
    signIn(next) {
      login = next;
    },
    async handleCodeFlow(req, res, url) {
      if (url.pathname === '/application/o/authorize/' && req.method === 'GET') authorize(url, res);
      else if (url.pathname === '/application/o/token/' && req.method === 'POST') await exchange(req, res);
      else return false;
      return true;
    },
    handle(path, res) {
      const discovery = DISCOVERY.exec(path);
      if (discovery) {
        const slug = discovery[1]!;
        const o = origin();
        send(
          res,
          completeResponse(version, 'OpenIDConnectConfiguration', {
            issuer: issuerFor(slug),
            authorization_endpoint: `${o}/application/o/authorize/`,
            token_endpoint: `${o}/application/o/token/`,
            userinfo_endpoint: `${o}/application/o/userinfo/`,
            end_session_endpoint: `${o}/application/o/${slug}/end-session/`,
            introspection_endpoint: `${o}/application/o/introspect/`,
            revocation_endpoint: `${o}/application/o/revoke/`,
            jwks_uri: `${o}/application/o/${slug}/jwks/`,
            response_types_supported: ['code', 'id_token', 'id_token token', 'code token', 'code id_token', 'code id_token token'],
            id_token_signing_alg_values_supported: ['RS256'],
            subject_types_supported: ['public'],
            token_endpoint_auth_methods_supported: ['client_secret_post', 'client_secret_basic'],
            grant_types_supported: ['authorization_code', 'refresh_token', 'implicit', 'client_credentials', 'password', 'urn:ietf:params:oauth:grant-type:device_code'],
            code_challenge_methods_supported: ['plain', 'S256'],
          }),
        );
        return true;
      }
      if (JWKS.test(path)) {
        send(res, { keys: [publicJwk] });
        return true;
      }
      return false;
    },
  };
}
