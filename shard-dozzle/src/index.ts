import type { Logger } from 'pino';
import { serve, toListenConfig, type RunningShard } from '@homelab-mcp/shard-kit';
import { WatchmanServiceService } from '@homelab-mcp/proto/ts/homelab/dozzle/v1/watchman.js';
import type { WatchmanConfig } from './config.js';
import { createHandlers } from './service.js';
import type { LogBackend } from './upstream/backend.js';
import { DockerApi } from './upstream/docker-api.js';
import { DozzleApi } from './upstream/dozzle-api.js';

export { parseConfig, type WatchmanConfig } from './config.js';

/** The backend the configuration names: Dozzle's API when set, else the Docker socket proxy. */
export function createBackend(config: WatchmanConfig): LogBackend {
  if (config.DOZZLE_API) {
    const auth = config.DOZZLE_AUTH_PROVIDER === 'simple'
      ? { provider: 'simple' as const, username: config.DOZZLE_USERNAME ?? '', password: config.DOZZLE_PASSWORD ?? '' }
      : config.DOZZLE_AUTH_PROVIDER === 'forward-proxy'
        ? { provider: 'forward-proxy' as const, user: config.DOZZLE_REMOTE_USER }
        : { provider: 'none' as const };
    return new DozzleApi(config.DOZZLE_API, auth);
  }
  return new DockerApi(config.DOCKER_HOST ?? '');
}

/** Starts the Watchman shard. */
export async function startWatchman(config: WatchmanConfig, logger: Logger): Promise<RunningShard> {
  const backend = createBackend(config);
  return serve({
    name: 'dozzle',
    serviceName: 'homelab.dozzle.v1.WatchmanService',
    service: WatchmanServiceService,
    handlers: createHandlers(backend, logger),
    listen: toListenConfig(config),
    health: { probe: (signal) => backend.ping(signal), intervalMs: 5000 },
    upstream: backend.description,
    logger,
  });
}
