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
import { homelabProviders, startTraefikSim, type EntryPointConfig, type SimContainerSpec, type TraefikSim } from './traefik/index.js';
import type { DynamicConfig } from './traefik/runtime.js';

export const SCENARIO_DIR = fileURLToPath(new URL('../scenarios/', import.meta.url));

export interface Scenario {
  name: string;
  description: string;
  /** The cause a diagnosis must name first: a class (entry-point, rule, middleware, auth, server-port, container, service, priority, tls, none) and the specifics. */
  cause: { class: string; detail: string };
  entryPoints?: Record<string, EntryPointConfig>;
  containers?: SimContainerSpec[];
  /** The file provider's configuration (written to the dynamic directory as scenario.yml). */
  dynamic?: DynamicConfig;
  serverHealth?: Record<string, 'UP' | 'DOWN'>;
  certificates?: Record<string, 'valid' | 'expired' | 'wrong-host'>;
  request: { url: string; method?: string; headers?: Record<string, string>; clientIp?: string };
  /** What trace_request answers; keys are read by the tests (outcome, winner, nearMiss, hops, ...). */
  expect: Record<string, unknown>;
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
