import { mkdir, writeFile, readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { stopOnSignals } from '@homelab-mcp/component-kit/signals.js';
import type { CliConfig } from './config.js';
import { componentEntries } from './build.js';
import { startComponent, stopComponents, type RunningComponent } from './supervisor.js';
import { ensureComponentCerts, type ComponentCerts } from './certs.js';

export interface StartOptions {
  /** Components to run: sim, shard-traefik, shard-dozzle, shard-authentik, gateway. */
  only: Set<string>;
  env: NodeJS.ProcessEnv;
  /** Where progress and the final summary go (the terminal). */
  out?: NodeJS.WritableStream;
  /** Keep running until SIGINT/SIGTERM (the CLI); tests pass false and call stop(). */
  wait?: boolean;
}

/** What `start` wrote to <home>/run.json, for `doctor` and `status`. */
export interface RunState {
  pid: number;
  mcpUrl?: string;
  tokenFile?: string;
  certsDir: string;
  components: Record<string, Record<string, string>>;
  /** The upstream settings the shards were started with (TRAEFIK_API, ...; no secrets: token files, not tokens). */
  upstreams: Record<string, string>;
}

export interface Started {
  state: RunState;
  components: RunningComponent[];
  stop(): Promise<void>;
}

const shardNames = ['traefik', 'dozzle', 'authentik'] as const;

function shardEnv(name: string, port: number, certs: ComponentCerts): Record<string, string> {
  const id = certs.identities[`shard-${name}`];
  if (!id) throw new Error(`no certificate for shard-${name}`);
  return {
    SHARD_LISTEN: `127.0.0.1:${port}`,
    SHARD_TLS_CA: certs.caFile,
    SHARD_TLS_CERT: id.certFile,
    SHARD_TLS_KEY: id.keyFile,
    SHARD_ALLOWED_PEERS: 'gateway',
  };
}

/**
 * Starts the stand-ins, the shards and the gateway as separate processes on
 * loopback, each with its own certificate, and prints how to connect.
 */
export async function startAll(cfg: CliConfig, logger: Logger, opts: StartOptions): Promise<Started> {
  const out = opts.out ?? process.stdout;
  const say = (line: string) => out.write(`${line}\n`);
  await mkdir(cfg.home, { recursive: true, mode: 0o700 });

  say('[1/4] certificates');
  const certs = await ensureComponentCerts(cfg, join(cfg.home, 'pki'), (msg) => say(`      ${msg}`));

  const entries = await componentEntries((msg) => say(`      ${msg}`));
  const entryOf = (component: string): string => entries[component] ?? '';
  const running: RunningComponent[] = [];
  const stop = () => stopComponents(running);
  try {
    const upstream: Record<string, string> = {};
    if (opts.only.has('sim')) {
      say('[2/4] homelab stand-ins (Traefik, Dozzle, Authentik)');
      // One process per stand-in, so that one can be stopped on its own (doctor must name it).
      const sims = await Promise.all(['traefik', 'dozzle', 'authentik'].map((n) =>
        startComponent({ name: `sim-${n}`, entry: entryOf('homelab-sim'), env: { HOMELAB_SIM_DIR: join(cfg.home, 'sim'), HOMELAB_SIM_ONLY: n, HOMELAB_SIM_LOG_LEVEL: cfg.logLevel } }, logger)));
      running.push(...sims);
      const ep = Object.assign({}, ...sims.map((c) => c.endpoints)) as Record<string, string>;
      Object.assign(upstream, {
        TRAEFIK_API: ep.traefikApi ?? '',
        TRAEFIK_DYNAMIC_DIR: ep.traefikDynamicDir ?? '',
        TRAEFIK_WEBSECURE_ADDRESS: ep.traefikWebsecure ?? '',
        DOZZLE_API: ep.dozzleApi ?? '',
        AUTHENTIK_URL: ep.authentikUrl ?? '',
        AUTHENTIK_TOKEN_FILE: ep.authentikTokenFile ?? '',
      });
    } else {
      say('[2/4] stand-ins skipped: shards use the upstreams in the environment');
    }

    say('[3/4] shards');
    // The shards' ports are settled before any of them listens, so the gateway starts beside them
    // instead of after them: it connects to each shard as that shard comes up.
    const shardPorts: Record<string, number> = {};
    for (const n of shardNames) if (opts.only.has(`shard-${n}`)) shardPorts[n] = await settledPort(({ traefik: cfg.ports.traefik, dozzle: cfg.ports.dozzle, authentik: cfg.ports.authentik })[n]);
    const shardUrls = Object.fromEntries(Object.entries(shardPorts).map(([n, port]) => [n, `127.0.0.1:${port}`]));
    const shardsStarting = Promise.all(
      shardNames
        .filter((n) => opts.only.has(`shard-${n}`))
        .map((n) =>
          startComponent(
            {
              name: `shard-${n}`,
              entry: entryOf(`shard-${n}`),
              env: { LOG_LEVEL: cfg.logLevel, ...upstreamEnv(n, upstream, opts.env), ...shardEnv(n, shardPorts[n] ?? 0, certs) },
            },
            logger,
          ).then((c) => {
            running.push(c);
            say(`      shard-${n} on ${c.endpoints.grpc ?? '?'}`);
            return c;
          }),
        ),
    );
    const tokenFile = join(cfg.home, 'gateway', 'token');
    let gatewayStarting: Promise<RunningComponent> | undefined;
    if (opts.only.has('gateway')) {
      const gw = cfg.ports.gateway;
      const id = certs.identities.gateway;
      if (!id) throw new Error('no certificate for the gateway');
      gatewayStarting = startComponent(
        {
          name: 'gateway',
          entry: entryOf('gateway'),
          env: {
            // GATEWAY_* settings given to the launcher (limits, auth mode, ...) reach the gateway; the layout below wins.
            ...Object.fromEntries(Object.entries(opts.env).filter((kv): kv is [string, string] => kv[0].startsWith('GATEWAY_') && kv[1] !== undefined)),
            LOG_LEVEL: cfg.logLevel,
            GATEWAY_LOG_LEVEL: cfg.logLevel,
            GATEWAY_LISTEN: `127.0.0.1:${gw}`,
            GATEWAY_DATA_DIR: join(cfg.home, 'gateway'),
            GATEWAY_TOKEN_FILE: tokenFile,
            GATEWAY_TLS_CA: certs.caFile,
            GATEWAY_TLS_CERT: id.certFile,
            GATEWAY_TLS_KEY: id.keyFile,
            ...Object.fromEntries(Object.entries(shardUrls).map(([n, url]) => [`SHARD_${n.toUpperCase()}_URL`, url])),
          },
        },
        logger,
      ).then((c) => {
        running.push(c);
        return c;
      });
    }
    // Both settle before anything is reported, so a failure stops whatever did start.
    const [, gatewayResult] = await Promise.allSettled([shardsStarting, gatewayStarting ?? Promise.resolve(undefined)]);
    await shardsStarting;
    const gateway = gatewayResult.status === 'fulfilled' ? gatewayResult.value : undefined;
    if (gatewayResult.status === 'rejected') throw gatewayResult.reason;

    const upstreams: Record<string, string> = {};
    for (const n of shardNames) if (opts.only.has(`shard-${n}`)) Object.assign(upstreams, upstreamEnv(n, upstream, opts.env));
    delete upstreams.AUTHENTIK_TOKEN;
    const state: RunState = { pid: process.pid, certsDir: join(cfg.home, 'pki'), components: {}, upstreams };
    for (const c of running) state.components[c.spec.name] = c.endpoints;

    if (gateway) {
      say('[4/4] gateway');
      state.mcpUrl = gateway.endpoints.mcp;
      state.tokenFile = tokenFile;
      const token = gateway.endpoints.tokenCreated === 'true' ? (await readFile(tokenFile, 'utf8')).trim() : undefined;
      for (const line of gatewayBanner(gateway.endpoints, tokenFile, token)) say(line);
    }
    await writeFile(join(cfg.home, 'run.json'), `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
    return { state, components: running, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/**
 * What the terminal shows once the gateway is up: where to connect and how to
 * authenticate. The token only when this start created it; none at all when
 * the gateway runs without authentication (there is nothing to send).
 */
export function gatewayBanner(endpoints: Record<string, string>, tokenFile: string, createdToken: string | undefined): string[] {
  const mcp = endpoints.mcp ?? '?';
  const lines = ['', 'homelab-mcp is running', `  MCP endpoint  ${mcp}`];
  if (endpoints.auth === 'none') {
    lines.push('  auth          none: loopback clients connect without a token (GATEWAY_AUTH=none)');
    lines.push(`  connect       npx @modelcontextprotocol/inspector --cli ${mcp} --transport http --method tools/list`);
  } else {
    if (createdToken) {
      lines.push(`  token         ${createdToken}`);
      lines.push(`                (shown once; stored in ${tokenFile}, mode 0600; \`npx homelab-mcp token\` prints it again)`);
    } else {
      lines.push(`  token         stored in ${tokenFile} (print it with \`npx homelab-mcp token\`)`);
    }
    lines.push(`  connect       npx @modelcontextprotocol/inspector --cli ${mcp} --transport http --method tools/list --header "Authorization: Bearer <token>"`);
  }
  if (endpoints.approval === 'human') lines.push('  approval      human: a person approves every change, in the client or in the console (GATEWAY_APPROVAL)');
  else if (endpoints.approval === 'model') lines.push('  approval      model: the client applies its own plans with their id (GATEWAY_APPROVAL=human to require a person)');
  if (endpoints.console) lines.push(`  console       ${endpoints.console}`);
  lines.push('  check         npx homelab-mcp doctor');
  return lines;
}

/**
 * A port for a shard: the configured one, or, when that is 0, one the system
 * has just handed out and taken back, so the gateway can be told it before the
 * shard listens.
 */
function settledPort(port: number): Promise<number> {
  if (port !== 0) return Promise.resolve(port);
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const addr = probe.address();
      probe.close(() => (addr && typeof addr === 'object' ? resolve(addr.port) : reject(new Error('no port from the system'))));
    });
  });
}

function upstreamEnv(shard: string, sim: Record<string, string>, env: NodeJS.ProcessEnv): Record<string, string> {
  const keys: Record<string, string[]> = {
    traefik: ['TRAEFIK_API', 'TRAEFIK_DYNAMIC_DIR', 'TRAEFIK_WEBSECURE_ADDRESS'],
    dozzle: ['DOZZLE_API', 'DOCKER_HOST'],
    authentik: ['AUTHENTIK_URL', 'AUTHENTIK_TOKEN_FILE', 'AUTHENTIK_TOKEN'],
  };
  const result: Record<string, string> = {};
  for (const k of keys[shard] ?? []) {
    const v = sim[k] || env[k];
    if (v) result[k] = v;
  }
  return result;
}

/** `homelab-mcp start`: start everything, then wait for Ctrl-C. */
export async function runStart(cfg: CliConfig, logger: Logger, opts: StartOptions): Promise<void> {
  const started = await startAll(cfg, logger, opts);
  let stopping = false;
  stopOnSignals(async () => {
    stopping = true;
    process.stdout.write('stopping…\n');
    await started.stop();
  }, logger);
  // A component that dies is reported; the others keep running (that is the point of shards).
  for (const c of started.components) {
    void c.exited.then((code) => {
      if (!stopping) process.stderr.write(`${c.spec.name} exited (code ${code}); the others keep running\n`);
    });
  }
}
