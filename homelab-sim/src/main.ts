// Runs the homelab stand-ins for `homelab-mcp start` and tells the launcher where they listen.
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pino } from 'pino';
import { startAuthentikSim } from './authentik/index.js';
import { parseSimConfig } from './config.js';
import { startDozzleSim } from './dozzle/index.js';
import { startTraefikSim } from './traefik/index.js';

const config = parseSimConfig(process.env);
const logger = pino({ level: config.HOMELAB_SIM_LOG_LEVEL, base: { component: 'homelab-sim' } });
const dir = resolve(config.HOMELAB_SIM_DIR);
const endpoints: Record<string, string> = {};
const closers: (() => Promise<void>)[] = [];

const host = config.HOMELAB_SIM_HOST;

if (config.only.has('traefik')) {
  const dynamicDir = resolve(config.HOMELAB_SIM_TRAEFIK_DYNAMIC_DIR ?? join(dir, 'traefik', 'dynamic'));
  await mkdir(dynamicDir, { recursive: true });
  const traefik = await startTraefikSim({ dynamicDir, host, apiPort: config.HOMELAB_SIM_TRAEFIK_PORT });
  Object.assign(endpoints, { traefikApi: traefik.apiUrl, traefikWebsecure: traefik.websecureAddress, traefikDynamicDir: dynamicDir });
  closers.push(traefik.close);
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
logger.info({ endpoints }, 'homelab stand-ins listening');
process.send?.({ type: 'ready', endpoints });

const stop = () => void Promise.all(closers.map((c) => c())).then(() => process.exit(0));
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
// Forked by the launcher: when it goes away (even killed outright), stop rather than linger.
process.once('disconnect', stop);
