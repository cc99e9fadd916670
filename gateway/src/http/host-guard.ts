import type { IncomingMessage, ServerResponse } from 'node:http';
import type { GatewayConfig } from '../config.js';
import { rpcError, sendJson } from './responses.js';

const CORS_HEADERS = 'authorization, content-type, mcp-session-id, mcp-protocol-version, last-event-id';

export interface HostGuard {
  /** The MCP endpoint as the gateway names itself. */
  url: string;
  /** False when the request was answered here: a foreign Host or Origin (403), or a CORS preflight. */
  admit(req: IncomingMessage, res: ServerResponse): boolean;
}

/**
 * The names the gateway answers to (its listening address, loopback, the
 * public URL, and what the operator adds) and the origins that may call it
 * from a browser: a page elsewhere cannot reach it through DNS rebinding.
 */
export function createHostGuard(config: Pick<GatewayConfig, 'listen' | 'publicUrl' | 'allowedHosts' | 'allowedOrigins'>, port: number): HostGuard {
  const hosts = new Set<string>();
  const origins = new Set<string>();
  const allow = (host: string) => {
    hosts.add(`${host}:${port}`);
    origins.add(`http://${host}:${port}`);
  };
  for (const h of ['127.0.0.1', 'localhost', '[::1]']) allow(h);
  const listenHost = config.listen.host.includes(':') ? `[${config.listen.host}]` : config.listen.host;
  const wildcard = listenHost === '0.0.0.0' || listenHost === '[::]';
  if (!wildcard) allow(listenHost);
  if (config.publicUrl) {
    const u = new URL(config.publicUrl);
    hosts.add(u.host);
    origins.add(u.origin);
  }
  for (const h of config.allowedHosts) hosts.add(h.toLowerCase());
  for (const o of config.allowedOrigins) origins.add(o);

  return {
    url: `http://${wildcard ? '127.0.0.1' : listenHost}:${port}/mcp`,
    admit(req, res) {
      const host = (req.headers.host ?? '').toLowerCase();
      if (!hosts.has(host)) {
        sendJson(res, 403, rpcError(-32000, `Forbidden: Host "${host}" is not one of this gateway's names; add it to GATEWAY_ALLOWED_HOSTS or GATEWAY_PUBLIC_URL`));
        return false;
      }
      const origin = req.headers.origin;
      if (origin === undefined) return req.method !== 'OPTIONS' || preflight(res);
      if (!origins.has(origin)) {
        sendJson(res, 403, rpcError(-32000, `Forbidden: Origin "${origin}" is not allowed; add it to GATEWAY_ALLOWED_ORIGINS`));
        return false;
      }
      res.setHeader('access-control-allow-origin', origin);
      res.setHeader('access-control-expose-headers', 'mcp-session-id, www-authenticate');
      res.setHeader('vary', 'Origin');
      return req.method !== 'OPTIONS' || preflight(res);
    },
  };
}

function preflight(res: ServerResponse): false {
  res.writeHead(204, { 'access-control-allow-methods': 'GET, POST, DELETE', 'access-control-allow-headers': CORS_HEADERS, 'access-control-max-age': '600' });
  res.end();
  return false;
}
