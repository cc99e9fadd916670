import type { Logger } from 'pino';
import { serve, toListenConfig, type RunningShard } from '@homelab-mcp/shard-kit';
import { NavigatorServiceService } from '@homelab-mcp/proto/ts/homelab/traefik/v1/navigator.js';
import type { NavigatorConfig } from './config.js';
import { DynamicStore } from './dynamic/store.js';
import { createHandlers } from './service.js';
import { TraefikApi } from './upstream/traefik-api.js';

export { parseConfig, type NavigatorConfig } from './config.js';

/** Starts the Navigator shard: the Traefik API client, the dynamic store, serve(). */
export async function startNavigator(config: NavigatorConfig, logger: Logger): Promise<RunningShard> {
  const api = new TraefikApi(config.TRAEFIK_API);
  const store = new DynamicStore(config.TRAEFIK_DYNAMIC_DIR, api, config.TRAEFIK_CONFIRM_TIMEOUT_MS, logger);
  const problem = await store.problem();
  if (problem) logger.warn({ problem }, 'add_dynamic_config will fail until this is fixed');
  // Not awaited: an interrupted apply may wait for Traefik; reads are served meanwhile, writes queue behind it.
  void store.start();
  return serve({
    name: 'traefik',
    serviceName: 'homelab.traefik.v1.NavigatorService',
    service: NavigatorServiceService,
    handlers: createHandlers({ api, store, websecureAddress: config.TRAEFIK_WEBSECURE_ADDRESS, logger }),
    listen: toListenConfig(config),
    health: { probe: async (signal) => void (await api.version(signal)), intervalMs: 5000 },
    upstream: `${api.description}; dynamic directory ${config.TRAEFIK_DYNAMIC_DIR}`,
    logger,
  });
}
