// Runs the homelab stand-ins for `homelab-mcp start` and tells the launcher where they listen.
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { createLogger, runComponent, type StartedComponent } from '@homelab-mcp/component-kit';
import { startAuthentikSim } from './authentik/index.js';
import { parseSimConfig, type SimConfig } from './config.js';
import { startDozzleSim } from './dozzle/index.js';
import { startTraefikSim } from './traefik/index.js';

/** The message a launcher (the bench) sends over the IPC channel to read how much upstream traffic the stand-in served. */
export const TRAFFIC_QUERY = 'homelab-sim:traffic';

function answerTrafficQueries(read: () => Record<string, { requests: number; connections: number; paths: Record<string, number> }>): void {
  process.on('message', (msg: unknown) => {
    if ((msg as { type?: unknown } | null)?.type === TRAFFIC_QUERY) process.send?.({ type: TRAFFIC_QUERY, traffic: read() });
  });
}

async function startStandIns(config: SimConfig): Promise<StartedComponent> {
  const dir = resolve(config.HOMELAB_SIM_DIR);
  const host = config.HOMELAB_SIM_HOST;
  const endpoints: Record<string, string> = {};
  const closers: (() => Promise<void>)[] = [];
  if (config.only.has('traefik')) {
    const dynamicDir = resolve(config.HOMELAB_SIM_TRAEFIK_DYNAMIC_DIR ?? join(dir, 'traefik', 'dynamic'));
    await mkdir(dynamicDir, { recursive: true });
    const traefik = await startTraefikSim({ dynamicDir, host, apiPort: config.HOMELAB_SIM_TRAEFIK_PORT });
    Object.assign(endpoints, { traefikApi: traefik.apiUrl, traefikWebsecure: traefik.websecureAddress, traefikDynamicDir: dynamicDir });
    closers.push(traefik.close);
    answerTrafficQueries(() => ({ traefikApi: traefik.apiTraffic() }));
  }
  if (config.only.has('dozzle')) {
    const dozzle = await startDozzleSim();
    endpoints.dozzleApi = dozzle.url;
    closers.push(dozzle.close);
  }
  if (config.only.has('authentik')) {
    const given = config.HOMELAB_SIM_AUTHENTIK_TOKEN_FILE;
    const token = given ? (await readFile(given, 'utf8')).trim() : undefined;
    const authentik = await startAuthentikSim({ version: config.HOMELAB_SIM_AUTHENTIK_VERSION, host, port: config.HOMELAB_SIM_AUTHENTIK_PORT, ...(token ? { token } : {}) });
    let tokenFile = given;
    if (!tokenFile) {
      tokenFile = join(dir, 'authentik', 'token');
      await mkdir(join(dir, 'authentik'), { recursive: true, mode: 0o700 });
      await writeFile(tokenFile, `${authentik.token}\n`, { mode: 0o600 });
      await chmod(tokenFile, 0o600);
    }
    Object.assign(endpoints, { authentikUrl: authentik.url, authentikTokenFile: tokenFile });
    closers.push(authentik.close);
  }
  return { endpoints, close: async () => void (await Promise.all(closers.map((c) => c()))) };
}

const logger = createLogger('homelab-sim', process.env.HOMELAB_SIM_LOG_LEVEL);
await runComponent('homelab-sim', logger, async () => {
  const started = await startStandIns(parseSimConfig(process.env));
  logger.info({ endpoints: started.endpoints }, 'homelab stand-ins listening');
  return started;
});
