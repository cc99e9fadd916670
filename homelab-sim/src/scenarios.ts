/**
 * Broken homelabs written as configuration: homelab-sim/scenarios/<name>/scenario.yaml.
 * Each holds what Traefik's providers would see (file-provider configuration,
 * containers with labels for the Docker provider, health-check results,
 * certificates), a request to follow, the cause a diagnosis must name first,
 * and what trace_request answers.
 */
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as yaml from 'js-yaml';
import { randomUUID } from 'node:crypto';
import type { AuthentikSim } from './authentik/index.js';
import { container, type SimContainer } from './dozzle/data.js';
import { homelabProviders, startTraefikSim, type EntryPointConfig, type SimContainerSpec, type TraefikSim } from './traefik/index.js';
import type { DynamicConfig } from './traefik/runtime.js';

export const SCENARIO_DIR = fileURLToPath(new URL('../scenarios/', import.meta.url));

export interface Scenario {
  name: string;
  description: string;
  /** The cause a diagnosis must name first: a class (entry-point, rule, middleware, auth, server-port, container, service, priority, tls, none) and the specifics. */
  cause: { class: string; detail: string; fix?: string };
  entryPoints?: Record<string, EntryPointConfig>;
  containers?: SimContainerSpec[];
  /** The file provider's configuration (written to the dynamic directory as scenario.yml). */
  dynamic?: DynamicConfig;
  serverHealth?: Record<string, 'UP' | 'DOWN'>;
  certificates?: Record<string, 'valid' | 'expired' | 'wrong-host'>;
  /** What the Authentik stand-in holds: applications with forward-auth proxy providers, and outposts besides the embedded one. */
  authentik?: ScenarioAuthentik;
  request: { url: string; method?: string; headers?: Record<string, string>; clientIp?: string };
  /** What trace_request answers; keys are read by the tests (outcome, winner, nearMiss, hops, ...). */
  expect: Record<string, unknown>;
}

export interface ScenarioAuthentik {
  outposts?: { name: string }[];
  /** `outposts` names the outposts the provider is bound to (none when omitted). */
  applications?: { slug: string; name?: string; externalHost: string; mode?: 'forward_single' | 'forward_domain' | 'proxy'; outposts?: string[] }[];
}

export async function scenarioNames(): Promise<string[]> {
  return (await readdir(SCENARIO_DIR, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name).sort();
}

export async function loadScenario(name: string): Promise<Scenario> {
  if (!/^[a-z0-9-]+$/.test(name)) throw new Error(`scenario name must be lowercase letters, digits and dashes: ${name}`);
  const data = yaml.load(await readFile(join(SCENARIO_DIR, name, 'scenario.yaml'), 'utf8')) as Omit<Scenario, 'name'>;
  if (!data?.request?.url || !data.cause?.class) throw new Error(`scenario ${name}: request.url and cause.class are required`);
  return { name, ...data };
}

/** A Traefik stand-in in the scenario's state: Traefik's internal routers, the file provider, the Docker provider. */
export async function startScenarioTraefik(s: Scenario, dynamicDir: string): Promise<TraefikSim> {
  await mkdir(dynamicDir, { recursive: true });
  if (s.dynamic) await writeFile(join(dynamicDir, 'scenario.yml'), yaml.dump(s.dynamic));
  const { internal } = homelabProviders();
  return startTraefikSim({
    dynamicDir,
    throttleMs: 3_600_000,
    providers: { internal: internal! },
    containers: s.containers ?? [],
    serverHealth: s.serverHealth ?? {},
    certificates: s.certificates ?? {},
    ...(s.entryPoints ? { entryPoints: s.entryPoints } : {}),
  });
}

/** The scenario's containers as Dozzle shows them: state, health, labels and logs. */
export function scenarioDozzleContainers(s: Scenario): SimContainer[] {
  return (s.containers ?? []).map((c, i) => {
    const id = `${(i + 1).toString(16).padStart(4, '0')}${c.name.replace(/[^a-f0-9]/g, '').padEnd(20, 'a')}`.slice(0, 24).padEnd(24, '0');
    const base = container(id, c.name, c.image ?? `${c.name}:latest`, c.state, { ...(c.health ? { health: c.health } : {}), ...(c.state === 'running' ? {} : { finishedMinutesAgo: 5 }) });
    const now = Date.now();
    const logs = (c.logs ?? []).map((text, n, all) => ({ ts: now - (all.length - n) * 1000, stream: /error|fatal|panic|exception/i.test(text) ? ('stderr' as const) : ('stdout' as const), text }));
    return { container: { ...base, labels: { ...base.labels, ...(c.labels ?? {}) } }, logs };
  });
}

/** Puts the scenario's applications, providers and outposts into an Authentik stand-in, as its API would have made them. */
export function seedScenarioAuthentik(sim: AuthentikSim, spec: ScenarioAuthentik | undefined): void {
  const st = sim.state;
  const flow = (designation: string) => st.flows.find((f) => f.designation === designation)?.pk ?? null;
  for (const o of spec?.outposts ?? []) st.outposts.push({ pk: randomUUID(), name: o.name, type: 'proxy', providers: [], managed: null, config: {}, token_identifier: `ak-outpost-${o.name.replace(/\W+/g, '-')}`, refresh_interval_s: 300 });
  for (const a of spec?.applications ?? []) {
    const pk = st.nextProviderPk++;
    st.providers.push({
      pk, kind: 'proxy', name: `${a.slug} proxy`, component: 'ak-provider-proxy-form', meta_model_name: 'authentik_providers_proxy.proxyprovider', verbose_name: 'Proxy Provider', verbose_name_plural: 'Proxy Providers',
      client_id: randomUUID().replace(/-/g, ''), mode: a.mode ?? 'forward_single', redirect_uris: [], external_host: a.externalHost,
      authorization_flow: flow('authorization'), invalidation_flow: flow('invalidation'),
    });
    st.applications.push({ pk: randomUUID(), name: a.name ?? a.slug, slug: a.slug, provider: pk, group: '', meta_launch_url: '', open_in_new_tab: false, policy_engine_mode: 'any' });
    for (const name of a.outposts ?? []) {
      const o = st.outposts.find((x) => x.name === name);
      if (!o) throw new Error(`scenario application ${a.slug}: no outpost named "${name}" (the embedded one is "authentik Embedded Outpost")`);
      o.providers = [...(o.providers as number[]), pk];
    }
  }
}
