import { GetRoutesRequest, GetRoutesResponse } from '@homelab-mcp/proto/ts/homelab/traefik/v1/navigator.js';
import { getRoutes } from '@homelab-mcp/shard-traefik/routes.js';
import { TraefikApi } from '@homelab-mcp/shard-traefik/upstream/traefik-api.js';
import type { DirectTool } from './direct-server.js';

/**
 * The work behind the benchmark's tool: the Navigator's own get_routes code
 * against the Traefik stand-in, so the gateway and its peers do identical work.
 */
export const getRoutesTool = {
  sample: { name: 'get_routes', args: { host: 'whoami.home.lan' } },
  tool(env: Record<string, string | undefined>): DirectTool {
    const api = new TraefikApi(env.TRAEFIK_API ?? 'http://127.0.0.1:8080/api');
    return {
      name: 'get_routes',
      description: 'List Traefik routes (filters: host, service, name, provider).',
      inputSchema: {
        type: 'object',
        properties: { host: { type: 'string' }, service: { type: 'string' }, name: { type: 'string' }, provider: { type: 'string' } },
        additionalProperties: false,
      },
      run: async (args) => {
        const res = await getRoutes(api, GetRoutesRequest.fromPartial(args as Partial<GetRoutesRequest>), AbortSignal.timeout(10_000));
        return GetRoutesResponse.toJSON(res) as Record<string, unknown>;
      },
    };
  },
};
