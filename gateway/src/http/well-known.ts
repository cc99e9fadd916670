import type { IncomingMessage, ServerResponse } from 'node:http';
import type { OAuthProtectedResourceMetadata } from '@modelcontextprotocol/sdk/shared/auth.js';
import type { GatewayConfig } from '../config.js';
import type { GatewayMetrics } from '../mcp/metrics.js';
import { ALL_SCOPES } from '../trust/principal.js';
import { sendJson } from './responses.js';

const METADATA_ROOT = '/.well-known/oauth-protected-resource';

export interface WellKnown {
  /** The WWW-Authenticate challenge of a 401 or 403; with OAuth it names the resource metadata and the scopes. */
  challenge(extra: string): string;
  /** Answers the endpoints anyone may read (RFC 9728 metadata, /healthz) and unknown paths; false leaves the request to /mcp or /metrics. */
  servePublic(path: string, req: IncomingMessage, res: ServerResponse): boolean;
  /** /metrics, for an authenticated caller. */
  serveMetrics(res: ServerResponse): Promise<void>;
}

type MetadataUrlOf = (resource: URL) => string;

/**
 * With OAuth the gateway is an RFC 9728 protected resource, and the SDK's
 * helper names its metadata URL. The helper lives in the SDK's auth router
 * module, which loads Express (about 100 ms and 7 MiB at start): it is
 * loaded only when OAuth is on.
 */
export async function loadMetadataUrlHelper(config: GatewayConfig): Promise<MetadataUrlOf | undefined> {
  if (config.auth.mode !== 'oauth') return undefined;
  return (await import('@modelcontextprotocol/sdk/server/auth/router.js')).getOAuthProtectedResourceMetadataUrl;
}

/** The endpoints beside /mcp, for the gateway at `url`. */
export function createWellKnown(config: GatewayConfig, url: string, metadataUrlOf: MetadataUrlOf | undefined, metrics: GatewayMetrics, health: () => unknown): WellKnown {
  const oauth = config.auth.mode === 'oauth' ? config.auth.oauth : undefined;
  // The resource clients are granted access to.
  const resource = new URL('/mcp', config.publicUrl ? `${config.publicUrl}/` : url);
  const metadataUrl = oauth && metadataUrlOf ? metadataUrlOf(resource) : undefined;
  const metadataPaths = new Set(metadataUrl ? [new URL(metadataUrl).pathname, METADATA_ROOT] : []);
  const metadata: OAuthProtectedResourceMetadata | undefined = oauth && {
    resource: resource.href,
    authorization_servers: [oauth.issuer],
    scopes_supported: [...ALL_SCOPES],
    bearer_methods_supported: ['header'],
    resource_name: 'homelab-mcp',
  };

  return {
    challenge: (extra) => `Bearer realm="homelab-mcp"${metadataUrl ? `, resource_metadata="${metadataUrl}", scope="${ALL_SCOPES.join(' ')}"` : ''}${extra}`,
    servePublic(path, req, res) {
      if (metadata && metadataPaths.has(path) && req.method === 'GET') {
        sendJson(res, 200, metadata);
        return true;
      }
      if (path === '/healthz' && req.method === 'GET') {
        sendJson(res, 200, health());
        return true;
      }
      if (path !== '/mcp' && path !== '/metrics') {
        sendJson(res, 404, { error: 'not found', endpoints: ['/mcp', '/healthz', '/metrics'] });
        return true;
      }
      return false;
    },
    async serveMetrics(res) {
      res.writeHead(200, { 'content-type': metrics.registry.contentType });
      res.end(await metrics.registry.metrics());
    },
  };
}
