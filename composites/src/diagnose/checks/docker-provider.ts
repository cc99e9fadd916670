import { TraceOutcome } from '@homelab-mcp/proto/ts/homelab/traefik/v1/navigator.js';
import type { Container } from '@homelab-mcp/proto/ts/homelab/dozzle/v1/watchman.js';
import { closest, distance } from 'fastest-levenshtein';
import { parseGoBool, ROUTER_LABEL_KEYS, SERVICE_LABEL_KEYS, unknownLabelKey } from '@homelab-mcp/upstream-types/traefik.js';
import { bare, enableLabel, hostsInRule } from '../labels.js';
import type { Check, Facts, Finding } from '../types.js';
import { loggedPort } from './server-port.js';

/*
 * A running container whose labels declare a router for the host, while
 * Traefik runs no such router: its Docker provider dropped it. The reasons are
 * taken in the order Traefik's DynConfBuilder meets them (pkg/provider/docker
 * config.go, then provider.Merge): a service without a port drops the whole
 * container, a router without a service among several is dropped, and a router
 * two containers define differently is dropped for both.
 */

/** Label keys of one kind (routers, services) by object name, lower-cased as paerser matches them. */
function objects(c: Container, kind: 'routers' | 'services'): Map<string, Map<string, string>> {
  const out = new Map<string, Map<string, string>>();
  for (const [key, value] of Object.entries(c.traefikLabels)) {
    const m = new RegExp(`^traefik\\.http\\.${kind}\\.([^.]+)\\.(.+)$`, 'i').exec(key);
    if (!m) continue;
    const name = m[1]!.toLowerCase();
    if (!out.has(name)) out.set(name, new Map());
    out.get(name)!.set(m[2]!.toLowerCase(), value);
  }
  return out;
}

/** Traefik's provider keeps it (running, healthy when it has a health check, not disabled by label). */
function kept(c: Container): boolean {
  const enable = enableLabel(c)?.value;
  return c.state === 'running' && (!c.health || c.health === 'healthy') && (enable === undefined || parseGoBool(enable) === true);
}

const recreate = (c: Container) => `docker compose up -d ${c.composeService || c.name}`;

/** No service of the container has a port: "port is missing", and the container is skipped. */
function portMissing(f: Facts, c: Container, router: string): Finding | undefined {
  if (c.exposedPorts.length) return undefined;
  const services = objects(c, 'services');
  if ([...services.values()].some((keys) => keys.has('loadbalancer.server.port') || keys.has('loadbalancer.server.url'))) return undefined;
  const service = [...services.keys()][0] ?? router;
  const port = loggedPort(f.logs?.get(c) ?? []);
  return {
    severity: 'critical', cause: 'server-port', check: 'docker-provider',
    what: `Container ${c.name} exposes no port and its labels name none, so Traefik's Docker provider cannot build its server ("service ${service} error: port is missing") and drops the container with its router ${router}@docker: ${c.name}'s hosts answer 404.`,
    evidence: [`${c.name}: no exposed port listed, no traefik.http.services.*.loadbalancer.server.port label`, ...(port ? [`its log says it listens on ${port}`] : [])],
    fix: `Set the label traefik.http.services.${service}.loadbalancer.server.port=${port ?? '<the port the app listens on>'} on ${c.name} and recreate it (${recreate(c)}).`,
  };
}

/** A router without a service label in a container that defines several services. */
function tooManyServices(c: Container, router: string): Finding | undefined {
  const services = [...objects(c, 'services').keys()];
  if (objects(c, 'routers').get(router)?.has('service') || services.length < 2) return undefined;
  const pick = services.find((s) => s === router) ?? services.find((s) => router.includes(s) || s.includes(router)) ?? services[0]!;
  return {
    severity: 'critical', cause: 'service', check: 'docker-provider',
    what: `Router ${router}@docker names no service and container ${c.name} defines ${services.length} (${services.join(', ')}): Traefik cannot choose ("Could not define the service name for the router: too many services") and drops the router, so its host answers 404.`,
    evidence: services.map((s) => `service ${s}`),
    fix: `Set the label traefik.http.routers.${router}.service=${pick} on ${c.name} and recreate it (${recreate(c)}).`,
  };
}

const describe = (keys: Map<string, string> | undefined) => [...(keys ?? new Map<string, string>())].map(([k, v]) => `${k}=${v}`).sort().join(', ');

/** Another container defines the same router with other settings: provider.Merge drops it for both. */
function definedTwice(f: Facts, c: Container, router: string): Finding | undefined {
  const mine = describe(objects(c, 'routers').get(router));
  const others = (f.containers ?? []).filter((o) => o.id !== c.id && kept(o) && objects(o, 'routers').has(router) && describe(objects(o, 'routers').get(router)) !== mine);
  if (!others.length) return undefined;
  const sharedServices = (o: Container) => [...objects(o, 'services').keys()].filter((s) => objects(c, 'services').has(s));
  const renames = others.map((o) => {
    const services = sharedServices(o);
    const also = services.length ? `, and traefik.http.services.${services[0]}.* to traefik.http.services.${o.name}.* (the copied service also puts ${o.name} behind ${c.name}'s service)` : '';
    return `on ${o.name}, rename the labels traefik.http.routers.${router}.* to traefik.http.routers.${o.name}.*${also}, then recreate it (${recreate(o)})`;
  });
  return {
    severity: 'critical', cause: 'rule', check: 'docker-provider',
    what: `Router ${router}@docker is defined by containers ${[c, ...others].map((x) => x.name).sort().join(' and ')} with different settings: Traefik's Docker provider drops a router defined differently twice ("Router defined multiple times with different configurations"), so ${f.target.host} answers 404.`,
    evidence: [c, ...others].map((x) => `${x.name}: ${describe(objects(x, 'routers').get(router))}`),
    fix: `Give each container its own router name: ${renames.join('; ')}.`,
  };
}

/**
 * A label key Traefik cannot decode ("field not found"): it skips the whole
 * container. Only a key a few edits from a real one is named as the cause, so
 * a field newer than this list is never blamed.
 */
function labelTypo(c: Container): Finding | undefined {
  for (const label of Object.keys(c.traefikLabels)) {
    const unknown = unknownLabelKey(label);
    if (!unknown) continue;
    const known = unknown.kind === 'routers' ? ROUTER_LABEL_KEYS : SERVICE_LABEL_KEYS;
    const near = closest(unknown.rest, [...known]);
    if (distance(near, unknown.rest) > 2) continue;
    const right = `traefik.http.${unknown.kind}.${label.split('.')[3]}.${near.replace('[n]', '[0]')}`;
    return {
      severity: 'critical', cause: 'rule', check: 'docker-provider',
      what: `Container ${c.name} has the label ${label}, which is not a ${unknown.kind === 'routers' ? 'router' : 'service'} field: Traefik cannot decode its labels ("field not found, node: ${unknown.node}") and skips the whole container, so its routers do not exist and its hosts answer 404.`,
      evidence: [`${label}=${c.traefikLabels[label]}`],
      fix: `Rename the label ${label} to ${right} on ${c.name} and recreate it (${recreate(c)}).`,
    };
  }
  return undefined;
}

/** Routers of a container whose rule names the host but which Traefik does not run. */
function droppedRouters(f: Facts, c: Container): string[] {
  const running = new Set((f.routes ?? []).filter((r) => r.provider === 'docker').map((r) => bare(r.name).toLowerCase()));
  return [...objects(c, 'routers')].filter(([name, keys]) => !running.has(name) && hostsInRule(keys.get('rule') ?? '').includes(f.target.host ?? '')).map(([name]) => name);
}

export const dockerProviderCheck: Check = {
  id: 'docker-provider',
  needs: ['trace', 'routes', 'containers'],
  irrelevant: (f) => (f.trace?.outcome !== TraceOutcome.TRACE_OUTCOME_NOT_FOUND ? 'a router takes the request' : undefined),
  run: (f) => f.related.filter(kept).flatMap((c) => droppedRouters(f, c).flatMap((router) => {
    // Where the log source lists no exposed ports, an empty list proves nothing: the label-only reasons come first.
    const found = labelTypo(c) ?? tooManyServices(c, router) ?? definedTwice(f, c, router) ?? portMissing(f, c, router);
    return found ? [found] : [];
  })).slice(0, 1),
};
