import { randomBytes } from 'node:crypto';
import type { ServerResponse } from 'node:http';
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

export interface OidcIssuer {
  issuerFor(slug: string): string;
  issue(request: AccessTokenRequest): Promise<string>;
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

  const send = (res: ServerResponse, body: unknown) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };

  return {
    issuerFor,
    async issue(request) {
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
