import type { Logger } from 'pino';
import { serve, toListenConfig, type RunningShard } from '@homelab-mcp/shard-kit';
import { GatekeeperServiceService } from '@homelab-mcp/proto/ts/homelab/authentik/v1/gatekeeper.js';
import type { GatekeeperConfig } from './config.js';
import { createHandlers } from './service.js';
import { Authentik, call } from './upstream/authentik.js';

export { parseConfig, type GatekeeperConfig } from './config.js';

/** Starts the Gatekeeper shard with one Authentik API token. */
export async function startGatekeeper(config: GatekeeperConfig, logger: Logger): Promise<RunningShard> {
  const ak = new Authentik(config.authentikOrigin, config.token);
  return serve({
    name: 'authentik',
    serviceName: 'homelab.authentik.v1.GatekeeperService',
    service: GatekeeperServiceService,
    handlers: createHandlers({ ak, outpostUrl: config.outpostUrl, logger }),
    listen: toListenConfig(config),
    // NOT_SERVING when Authentik is unreachable or rejects the token; the message says which.
    health: { probe: async (signal) => void (await call(() => ak.core.coreUsersMeRetrieve({ signal }))), intervalMs: 10_000 },
    upstream: ak.description,
    logger,
  });
}
