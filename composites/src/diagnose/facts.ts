import { GetRoutesRequest, NavigatorServiceClient, TraceRequestRequest, type Route, type TraceRequestResponse } from '@homelab-mcp/proto/ts/homelab/traefik/v1/navigator.js';
import { ListContainersRequest, TailLogsRequest, WatchmanServiceClient, type Container, type LogLine } from '@homelab-mcp/proto/ts/homelab/dozzle/v1/watchman.js';
import { GatekeeperServiceClient, ListApplicationsRequest, type Application } from '@homelab-mcp/proto/ts/homelab/authentik/v1/gatekeeper.js';
import { clientFor, clientsFor, collect, reasonOf, unary, type ShardChannels } from '../shard-clients.js';
import { resolveTarget } from './target.js';
import type { FactKind, Facts, Target } from './types.js';
import { bare, hostOf, hostsInRule } from './labels.js';

const NAVIGATOR = 'homelab.traefik.v1.NavigatorService';
const WATCHMAN = 'homelab.dozzle.v1.WatchmanService';
const GATEKEEPER = 'homelab.authentik.v1.GatekeeperService';
const DEADLINE_MS = 8000;
const LOG_LINES = 200;

interface Clients {
  navigator?: NavigatorServiceClient | undefined;
  /** One per Docker node (its Watchman instance); one without a node name on a single host. */
  watchmen: { node: string; client: WatchmanServiceClient; down?: string }[];
  gatekeeper?: GatekeeperServiceClient | undefined;
}

type Settled<T> = { value: T } | { why: string };

async function settle<T>(what: string, client: unknown, call: () => Promise<T>): Promise<Settled<T>> {
  if (!client) return { why: `the ${what} shard is not serving` };
  try {
    return { value: await call() };
  } catch (e) {
    return { why: reasonOf(e) };
  }
}

function take<T>(kind: FactKind, s: Settled<T>, missing: Facts['missing']): T | undefined {
  if ('value' in s) return s.value;
  missing[kind] = s.why;
  return undefined;
}


/** Containers behind the target: routing labels for its host or router first, then its name, then a server's hostname. */
export function relatedContainers(target: Target, trace: TraceRequestResponse | undefined, containers: readonly Container[]): Container[] {
  const hop = trace?.hops.at(-1);
  const routers = new Set([hop?.winner, ...(hop?.nearMisses.map((m) => m.router) ?? [])].filter((r): r is string => Boolean(r?.endsWith('@docker'))).map((r) => bare(r).toLowerCase()));
  const serverHosts = new Set((hop?.service?.servers ?? []).map((s) => hostOf(s.url)));
  const names = new Set([target.name, target.host?.split('.')[0]].filter(Boolean));
  const score = (c: Container): number => {
    const rules = Object.entries(c.traefikLabels).filter(([k]) => /\.rule$/i.test(k));
    if (target.host && rules.some(([, v]) => hostsInRule(v).includes(target.host ?? ''))) return 4;
    if (rules.some(([k]) => routers.has((k.split('.')[3] ?? '').toLowerCase()))) return 3;
    if (names.has(c.name.toLowerCase()) || names.has(c.composeService.toLowerCase())) return 2;
    return serverHosts.has(c.name) || serverHosts.has(c.composeService) ? 1 : 0;
  };
  return containers.map((c) => ({ c, s: score(c) })).filter((x) => x.s > 0).sort((a, b) => b.s - a.s).map((x) => x.c);
}

/**
 * Every node's containers, each marked with its node when several Watchmen
 * run. Nodes that do not answer are left out and named; all failing is a failure.
 */
async function listContainers(watchmen: Clients['watchmen'], signal: AbortSignal): Promise<{ containers: Container[]; unanswered: string[] }> {
  const settled = await Promise.allSettled(watchmen.map(async ({ node, client, down }) => {
    if (down) throw new Error(`unreachable, ${down}`);
    const r = await unary(client, client.listContainers, ListContainersRequest.fromPartial({ all: true }), DEADLINE_MS, signal);
    return r.containers.map((c) => ({ ...c, node }));
  }));
  const failed = settled.flatMap((s, i) => (s.status === 'rejected' ? [`node ${watchmen[i]!.node || 'default'}: ${reasonOf(s.reason)}`] : []));
  if (failed.length === settled.length) throw new Error(failed.length === 1 ? failed[0]!.replace(/^node \S+: /, '') : failed.join('; '));
  return { containers: settled.flatMap((s) => (s.status === 'fulfilled' ? s.value : [])), unanswered: failed };
}

/** The last lines of the containers behind the target, each read on the node that runs it. */
async function readLogs(watchmen: Clients['watchmen'], related: readonly Container[], signal: AbortSignal): Promise<Map<Container, LogLine[]>> {
  const out = new Map<Container, LogLine[]>();
  await Promise.all(related.slice(0, 3).map(async (c) => {
    const watchman = (watchmen.find((w) => w.node === c.node) ?? watchmen.find((w) => !w.down) ?? watchmen[0]!).client;
    const stream = watchman.tailLogs(TailLogsRequest.fromPartial({ container: c.id, lines: LOG_LINES }), undefined, { deadline: Date.now() + DEADLINE_MS });
    out.set(c, (await collect(stream, signal)).flatMap((m) => m.lines));
  }));
  return out;
}

/**
 * Reads what the checks need: routers, containers and applications at once,
 * then the request's trace (through the routers just read: Traefik is read
 * once), then the logs of the containers behind it.
 */
export async function gatherFacts(channels: ShardChannels, input: { service: string; path?: string | undefined; clientIp?: string | undefined }, signal: AbortSignal): Promise<Facts> {
  const c: Clients = {
    navigator: clientFor(channels, NAVIGATOR, NavigatorServiceClient),
    watchmen: clientsFor(channels, WATCHMAN, WatchmanServiceClient),
    gatekeeper: clientFor(channels, GATEKEEPER, GatekeeperServiceClient),
  };
  const missing: Facts['missing'] = {};
  const [routesS, containersS, appsS] = await Promise.all([
    settle('Traefik', c.navigator, () => unary(c.navigator!, c.navigator!.getRoutes, GetRoutesRequest.fromPartial({}), DEADLINE_MS, signal)),
    settle('Dozzle', c.watchmen.length > 0, () => listContainers(c.watchmen, signal)),
    settle('Authentik', c.gatekeeper, () => unary(c.gatekeeper!, c.gatekeeper!.listApplications, ListApplicationsRequest.fromPartial({}), DEADLINE_MS, signal).then((r): Application[] => r.applications)),
  ]);
  const routesRead = take('routes', routesS, missing);
  const routes: Route[] | undefined = routesRead?.routes;
  const listed = take('containers', containersS, missing);
  const containers = listed?.containers;
  const apps = take('apps', appsS, missing);
  const target = resolveTarget(input.service, input.path, routes ?? [], containers ?? [], apps ?? []);
  const traceS: Settled<TraceRequestResponse> = !target.url
    ? { why: `no host is known for "${input.service}"` }
    : await settle('Traefik', c.navigator, () => unary(c.navigator!, c.navigator!.traceRequest, TraceRequestRequest.fromPartial({ url: target.url, clientIp: input.clientIp ?? '', snapshot: routesRead?.snapshot ?? '' }), DEADLINE_MS * 2, signal));
  const trace = take('trace', traceS, missing);
  const related = relatedContainers(target, trace, containers ?? []);
  const logsS = related.length === 0 ? { value: new Map<Container, LogLine[]>() } : await settle('Dozzle', c.watchmen.length > 0, () => readLogs(c.watchmen, related, signal));
  const logs = take('logs', logsS, missing);
  return { target, ...(listed?.unanswered.length ? { unansweredNodes: listed.unanswered } : {}), ...(routes ? { routes } : {}), ...(trace ? { trace } : {}), ...(containers ? { containers } : {}), ...(apps ? { apps } : {}), related, ...(logs ? { logs } : {}), missing };
}
