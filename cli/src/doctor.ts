import { lookup } from 'node:dns/promises';
import { access, constants, readFile, unlink, writeFile } from 'node:fs/promises';
import { connect as netConnect } from 'node:net';
import { join, resolve } from 'node:path';
import { existsSync } from 'node:fs';
import { connect as tlsConnect } from 'node:tls';
import { readShardFile, stripScheme, type ShardFile } from '@homelab-mcp/component-kit/shard-file.js';
import { splitHostPort } from '@homelab-mcp/pki/address.js';
import { createChannelCredentials } from '@homelab-mcp/pki/credentials.js';
import { checkPeerIdentity, daysUntil, instanceIdentity, parseInstanceAddresses } from '@homelab-mcp/pki/identity.js';
import type { CliConfig } from './config.js';
import { checkDeployment, COMPOSE_FILE } from './doctor-deploy.js';
import { servingStatus } from './healthcheck.js';
import { connectGateway, readRunState, readToken } from './mcp-client.js';
import type { RunState } from './start.js';

/** One finding of `doctor`: what was checked, whether it passed, and what to do when not. */
export interface Check {
  target: string;
  check: string;
  ok: boolean;
  detail: string;
  fix?: string;
}

interface ShardTarget {
  name: string;
  host: string;
  port: number;
  identity: string;
  /** Where its address is set, for the fixes: SHARD_TRAEFIK_URL, SHARD_DOZZLE_INSTANCES, the shard file. */
  setting: string;
  /** What to start: shard-traefik, or an instance's shard on its node. */
  component: string;
}

interface Tls {
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
}

const TIMEOUT_MS = 3000;

function splitAddress(address: string): { host: string; port: number } | undefined {
  return splitHostPort(address.replace(/^[a-z]+:\/\//, ''));
}

async function checkDns(t: ShardTarget): Promise<Check> {
  try {
    const { address } = await lookup(t.host);
    return { target: t.name, check: 'dns', ok: true, detail: `${t.host} -> ${address}` };
  } catch (err) {
    return { target: t.name, check: 'dns', ok: false, detail: `cannot resolve ${t.host}: ${(err as Error).message}`, fix: `Check ${t.name}'s address in ${t.setting}, or use the host's IP address.` };
  }
}

function checkTcp(t: ShardTarget): Promise<Check> {
  return new Promise((resolve) => {
    const socket = netConnect({ host: t.host, port: t.port, timeout: TIMEOUT_MS });
    const done = (c: Check) => { socket.destroy(); resolve(c); };
    socket.once('connect', () => done({ target: t.name, check: 'tcp', ok: true, detail: `${t.host}:${t.port} accepts connections` }));
    const fail = (why: string) => done({ target: t.name, check: 'tcp', ok: false, detail: `${t.host}:${t.port}: ${why}`, fix: `Start ${t.component} (${t.component === `shard-${t.name}` ? `npm start, or docker-compose up -d shard-${t.name}` : 'docker-compose -f docker-compose.docker-node.yaml up -d there'}) and check that port ${t.port} is reachable from here (firewall, published port).` });
    socket.once('timeout', () => fail('no answer within 3 s'));
    socket.once('error', (err) => fail(err.message));
  });
}

function checkTlsIdentity(t: ShardTarget, tls: Tls): Promise<Check> {
  return new Promise((resolve) => {
    const socket = tlsConnect({ host: t.host, port: t.port, ca: tls.ca, cert: tls.cert, key: tls.key, ALPNProtocols: ['h2'], servername: t.host.match(/^[\d.:]+$/) ? undefined : t.host, checkServerIdentity: () => undefined, timeout: TIMEOUT_MS });
    const done = (c: Check) => { socket.destroy(); resolve(c); };
    socket.once('secureConnect', () => {
      const cert = socket.getPeerCertificate();
      const wrong = checkPeerIdentity(cert, t.identity);
      if (wrong) {
        done({ target: t.name, check: 'tls identity', ok: false, detail: `${t.host}:${t.port}: ${wrong.message}`, fix: `Point ${t.name}'s address in ${t.setting} at ${t.component}, or re-issue its certificate: homelab-mcp certs issue ${t.identity}` });
        return;
      }
      const daysLeft = daysUntil(new Date(cert.valid_to));
      if (daysLeft < 14) {
        done({ target: t.name, check: 'tls identity', ok: false, detail: `${t.identity}'s certificate expires in ${daysLeft} days (${cert.valid_to})`, fix: `homelab-mcp certs issue ${t.identity} and restart ${t.component}` });
        return;
      }
      done({ target: t.name, check: 'tls identity', ok: true, detail: `${t.identity}, certificate valid ${daysLeft} more days` });
    });
    socket.once('timeout', () => done({ target: t.name, check: 'tls identity', ok: false, detail: 'TLS handshake timed out', fix: 'Is this port a homelab-mcp shard (and not plaintext)?' }));
    socket.once('error', (err) => done({ target: t.name, check: 'tls identity', ok: false, detail: `TLS handshake failed: ${err.message}`, fix: 'Gateway and shard must share the CA from `homelab-mcp certs init`; the shard must allow the gateway identity (SHARD_ALLOWED_PEERS).' }));
  });
}

async function checkHealth(t: ShardTarget, tls: Tls): Promise<Check> {
  const creds = createChannelCredentials(tls, t.identity);
  try {
    const status = await servingStatus(`${t.host}:${t.port}`, creds, TIMEOUT_MS);
    return status === 'SERVING'
      ? { target: t.name, check: 'health', ok: true, detail: 'SERVING' }
      : { target: t.name, check: 'health', ok: false, detail: `${status}: the shard runs but cannot use its upstream`, fix: `Read the upstream checks below and ${t.component}'s log for the reason.` };
  } catch (err) {
    return { target: t.name, check: 'health', ok: false, detail: `health check failed: ${(err as Error).message}`, fix: `Check ${t.component}'s log.` };
  }
}

async function checkHttp(target: string, check: string, url: string, init: RequestInit, expect: (res: Response) => string | undefined, fix: string): Promise<Check> {
  try {
    const res = await fetch(url, { ...init, signal: AbortSignal.timeout(TIMEOUT_MS) });
    const problem = expect(res);
    return problem ? { target, check, ok: false, detail: problem, fix } : { target, check, ok: true, detail: `${url}: ${res.status}` };
  } catch (err) {
    return { target, check, ok: false, detail: `${url}: ${(err as Error).cause instanceof Error ? ((err as Error).cause as Error).message : (err as Error).message}`, fix };
  }
}

/** Upstream checks for the services a shard talks to, from the environment `start` gave it or this shell's. */
async function checkUpstreams(env: Record<string, string | undefined>): Promise<Check[]> {
  const checks: Promise<Check>[] = [];
  if (env.TRAEFIK_API) {
    checks.push(checkHttp('traefik', 'api', `${env.TRAEFIK_API.replace(/\/$/, '')}/version`, {}, (r) => (r.ok ? undefined : `Traefik API answered ${r.status}`), 'Enable Traefik\'s API (api.insecure or a router to api@internal) and set TRAEFIK_API to it, e.g. http://traefik:8080/api.'));
  }
  if (env.TRAEFIK_DYNAMIC_DIR) {
    const dir = env.TRAEFIK_DYNAMIC_DIR;
    checks.push((async (): Promise<Check> => {
      const probe = join(dir, `.homelab-mcp-doctor-${process.pid}.tmp`);
      try {
        await access(dir, constants.W_OK);
        await writeFile(probe, '');
        await unlink(probe);
        return { target: 'traefik', check: '/dynamic writable', ok: true, detail: dir };
      } catch (err) {
        return { target: 'traefik', check: '/dynamic writable', ok: false, detail: `${dir}: ${(err as Error).message}`, fix: 'Mount Traefik\'s file-provider directory read-write into shard-traefik (the directory, not single files) and give uid 1000 write access.' };
      }
    })());
  }
  if (env.DOZZLE_API) {
    checks.push(checkHttp('dozzle', 'api', `${env.DOZZLE_API.replace(/\/api\/?$/, '')}/healthcheck`, {}, (r) => (r.ok ? undefined : `Dozzle answered ${r.status}`), 'Set DOZZLE_API to Dozzle\'s API, e.g. http://dozzle:8080/api.'));
  }
  if (env.DOCKER_HOST?.startsWith('tcp://')) {
    const base = `http://${env.DOCKER_HOST.slice('tcp://'.length)}`;
    checks.push(checkHttp('dozzle', 'socket proxy reachable', `${base}/_ping`, {}, (r) => (r.ok ? undefined : `the socket proxy answered ${r.status} to /_ping`), 'Start the docker-socket-proxy service with PING=1 and CONTAINERS=1.'));
    checks.push(checkHttp('dozzle', 'socket proxy GET-only', `${base}/containers/homelab-mcp-doctor/stop`, { method: 'POST' }, (r) => (r.status === 403 ? undefined : `a POST through the proxy was not refused (HTTP ${r.status})`), 'Set POST=0 on the docker-socket-proxy: the shard must not be able to change containers.'));
    checks.push(checkHttp('dozzle', 'socket proxy no files', `${base}/containers/homelab-mcp-doctor/archive?path=/`, {}, (r) => (r.status === 403 ? undefined : `GET /containers/{id}/archive went through the proxy (HTTP ${r.status}): it hands out any file of any container`), 'Give the proxy deploy/docker-socket-proxy/haproxy.cfg (docker-compose.mcp.yaml mounts it): it lets through only what the Watchman reads.'));
  }
  if (env.AUTHENTIK_URL) {
    let token = env.AUTHENTIK_TOKEN;
    if (!token && env.AUTHENTIK_TOKEN_FILE) token = (await readFile(env.AUTHENTIK_TOKEN_FILE, 'utf8').catch(() => '')).trim();
    const base = env.AUTHENTIK_URL.replace(/\/$/, '').replace(/\/api\/v3$/, '');
    checks.push(checkHttp('authentik', 'api token', `${base}/api/v3/core/users/me/`, { headers: token ? { authorization: `Bearer ${token}` } : {} }, (r) =>
      r.ok ? undefined : r.status === 403 || r.status === 401 ? 'Authentik rejected the API token' : `Authentik answered ${r.status}`,
    'Create an API token (intent "API") in Authentik under Directory > Tokens and App passwords, and put it in AUTHENTIK_TOKEN_FILE.'));
  }
  return Promise.all(checks);
}

async function checkGateway(url: string, token: string | undefined): Promise<Check[]> {
  const checks: Check[] = [];
  try {
    const client = await connectGateway(url, token);
    checks.push({ target: 'gateway', check: 'mcp', ok: true, detail: `${url} accepts the token` });
    const res = await client.callTool({ name: 'homelab_status', arguments: {} });
    const shards = ((res.structuredContent as { shards?: { name: string; state: string; lastError?: string }[] })?.shards) ?? [];
    for (const s of shards) {
      checks.push(s.state === 'serving'
        ? { target: s.name, check: 'gateway sees it', ok: true, detail: 'serving, tools listed' }
        : { target: s.name, check: 'gateway sees it', ok: false, detail: `${s.state}${s.lastError ? `: ${s.lastError}` : ''}`, fix: `Its tools are hidden until it is serving; see the ${s.name} checks above.` });
    }
    await client.close();
  } catch (err) {
    const msg = (err as Error).message;
    checks.push({ target: 'gateway', check: 'mcp', ok: false, detail: `${url}: ${msg}`, fix: /401/.test(msg) ? 'Send the token from the gateway token file (homelab-mcp token).' : 'Start the gateway (npm start or docker-compose up -d gateway).' });
  }
  return checks;
}

function shardTargets(state: RunState | undefined, env: NodeJS.ProcessEnv, shardFile?: ShardFile & { path: string }): ShardTarget[] {
  const targets: ShardTarget[] = [];
  const seen = new Set<string>();
  const add = (name: string, address: string | undefined, identity = env[`SHARD_${name.toUpperCase()}_IDENTITY`] ?? `shard-${name}`, setting = `SHARD_${name.toUpperCase()}_URL`) => {
    const hp = address ? splitAddress(address) : undefined;
    if (!hp || seen.has(name)) return;
    seen.add(name);
    const [kind, node] = name.split('/');
    targets.push({ name, ...hp, identity, setting, component: node ? `shard-${kind} on node ${node}` : `shard-${name}` });
  };
  for (const [component, endpoints] of Object.entries(state?.components ?? {})) {
    if (component.startsWith('shard-')) add(component.slice(6), endpoints.grpc);
  }
  for (const [k, v] of Object.entries(env)) {
    const m = /^SHARD_([A-Z0-9]+)_URL$/.exec(k);
    if (m?.[1]) add(m[1].toLowerCase(), v);
  }
  // One target per node of a fleet (SHARD_DOZZLE_INSTANCES=nas=nas.home.lan:50051,...): each is checked on its own.
  for (const [k, v] of Object.entries(env)) {
    const m = /^SHARD_([A-Z0-9]+)_INSTANCES$/.exec(k);
    if (!m?.[1] || !v) continue;
    const kind = m[1].toLowerCase();
    let instances: [string, string][] = [];
    try {
      instances = parseInstanceAddresses(v);
    } catch {
      // the gateway refuses the variable at start, with the reason
    }
    for (const [instance, address] of instances) add(`${kind}/${instance}`, address, instanceIdentity(env[`SHARD_${m[1]}_IDENTITY`] ?? `shard-${kind}`, instance), k);
  }
  for (const s of shardFile?.shards ?? []) {
    const instance = s.instance ?? '';
    add(instance ? `${s.name}/${instance}` : s.name, stripScheme(s.url), s.identity ?? instanceIdentity(`shard-${s.name}`, instance), shardFile?.path);
  }
  return targets;
}

/** `homelab-mcp doctor`: prints every check, each problem with its fix; returns the exit code. */
export async function runDoctor(cfg: CliConfig, opts: { gateway?: string; compose?: string; cwd?: string; env?: NodeJS.ProcessEnv; out?: NodeJS.WritableStream }): Promise<number> {
  const out = opts.out ?? process.stdout;
  const env = opts.env ?? {};
  const cwd = opts.cwd ?? process.cwd();
  // A compose deployment: named, or the current directory after the README's first step (cp deploy/example.env .env).
  const composeDir = opts.compose ?? (existsSync(join(cwd, COMPOSE_FILE)) && existsSync(join(cwd, '.env')) ? cwd : undefined);
  const state = await readRunState(cfg);
  const deployment = composeDir ? await checkDeployment(resolve(composeDir), env) : undefined;
  const certsDir = state?.certsDir ?? deployment?.certsDir ?? join(cfg.home, 'pki');
  const checks: Check[] = [];
  let tls: Tls | undefined;
  try {
    const { gatewayTlsFiles } = await import('./certs.js');
    const files = gatewayTlsFiles(certsDir, env);
    tls = { ca: await readFile(files.caFile), cert: await readFile(files.certFile), key: await readFile(files.keyFile) };
    checks.push({ target: 'gateway', check: 'certificates', ok: true, detail: `read from ${files.caFile.replace(/\/[^/]+$/, '')}` });
  } catch (err) {
    checks.push({ target: 'gateway', check: 'certificates', ok: false, detail: (err as Error).message, fix: deployment ? `docker-compose -f ${COMPOSE_FILE} up -d (certs-init creates them)` : 'Run `homelab-mcp certs init` (npm start does it on first run).' });
  }
  if (deployment) checks.push(...deployment.checks);
  // The gateway's shard file (GATEWAY_CONFIG; a compose deployment's deploy/nodes/nodes.yaml).
  const shardFilePath = env.GATEWAY_CONFIG ?? deployment?.nodesFile;
  let shardFile: (ShardFile & { path: string }) | undefined;
  try {
    if (shardFilePath) shardFile = { ...readShardFile(shardFilePath), path: shardFilePath };
  } catch (err) {
    checks.push({ target: 'gateway', check: 'shard file', ok: false, detail: (err as Error).message, fix: `Correct the file (deploy/nodes/nodes.example.yaml shows the form); until then the gateway keeps the shards it had, or does not start.` });
  }
  const targets = shardTargets(state, env, shardFile);
  if (targets.length === 0 && !composeDir) checks.push({ target: 'gateway', check: 'shards', ok: false, detail: 'no shards configured', fix: 'Run `npm start`, or set SHARD_TRAEFIK_URL, SHARD_DOZZLE_URL and SHARD_AUTHENTIK_URL.' });
  for (const t of targets) {
    const dns = await checkDns(t);
    checks.push(dns);
    if (!dns.ok) continue;
    const tcp = await checkTcp(t);
    checks.push(tcp);
    if (!tcp.ok || !tls) continue;
    const id = await checkTlsIdentity(t, tls);
    checks.push(id);
    if (id.ok) checks.push(await checkHealth(t, tls));
  }
  checks.push(...(await checkUpstreams({ ...state?.upstreams, ...env })));
  const url = opts.gateway ?? state?.mcpUrl ?? env.HOMELAB_MCP_GATEWAY_URL;
  if (url) checks.push(...(await checkGateway(url, await readToken(cfg, state))));

  for (const c of checks) {
    out.write(`${c.ok ? 'ok  ' : 'FAIL'}  ${c.target.padEnd(10)} ${c.check.padEnd(22)} ${c.detail}\n`);
    if (!c.ok && c.fix) out.write(`      ${''.padEnd(10)} ${'fix:'.padEnd(22)} ${c.fix}\n`);
  }
  const failed = checks.filter((c) => !c.ok).length;
  out.write(failed === 0 ? `\nall ${checks.length} checks passed\n` : `\n${failed} of ${checks.length} checks failed\n`);
  return failed === 0 ? 0 : 1;
}
