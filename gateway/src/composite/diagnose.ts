import * as grpc from '@grpc/grpc-js';
import type { CallToolResult, Tool } from '@modelcontextprotocol/sdk/types.js';
import {
  CheckSslStatusRequest,
  GetRoutesRequest,
  NavigatorServiceClient,
  ObjectStatus,
  type CertificateReport,
  type Route,
} from '@homelab-mcp/proto/ts/homelab/traefik/v1/navigator.js';
import { ListContainersRequest, TailLogsRequest, WatchmanServiceClient, type Container, type LogLine, type TailLogsResponse } from '@homelab-mcp/proto/ts/homelab/dozzle/v1/watchman.js';
import { GatekeeperServiceClient, ListApplicationsRequest, type Application } from '@homelab-mcp/proto/ts/homelab/authentik/v1/gatekeeper.js';
import type { ShardConnection } from '../discovery/shard-connection.js';
import { distance } from 'fastest-levenshtein';

export const DIAGNOSE_TOOL_NAME = 'diagnose_service';

const NAVIGATOR = 'homelab.traefik.v1.NavigatorService';
const WATCHMAN = 'homelab.dozzle.v1.WatchmanService';
const GATEKEEPER = 'homelab.authentik.v1.GatekeeperService';
const SEVERITIES = ['critical', 'warning', 'info', 'ok'] as const;
type Severity = (typeof SEVERITIES)[number];

export interface Finding {
  severity: Severity;
  check: string;
  what: string;
  evidence: string[];
  fix?: string;
  /** The tool call that would fix it, where one exists. */
  fix_tool?: { name: string; arguments: Record<string, unknown> };
}

const findingSchema = {
  type: 'object',
  properties: {
    severity: { type: 'string', enum: [...SEVERITIES] },
    check: { type: 'string' },
    what: { type: 'string' },
    evidence: { type: 'array', items: { type: 'string' } },
    fix: { type: 'string' },
    fix_tool: { type: 'object', properties: { name: { type: 'string' }, arguments: { type: 'object' } }, required: ['name', 'arguments'] },
  },
  required: ['severity', 'check', 'what', 'evidence'],
} as const;

export const diagnoseTool: Tool = {
  name: DIAGNOSE_TOOL_NAME,
  title: 'Diagnose a service',
  description:
    'Explain why a service misbehaves ("why is Gitea 404ing?"): checks in parallel the Traefik routers for its host (missing, typo, disabled, conflicts), the health of its servers, ' +
    'forwardAuth to Authentik (the application exists and is bound to an outpost), the TLS certificate (expired, wrong name, Traefik default), the container (state, health, restarts) ' +
    'and recent errors and 4xx/5xx in its logs. Returns findings, most severe first, each with evidence and a fix (with the exact tool call where one exists), and says what it could not check.',
  inputSchema: {
    type: 'object',
    properties: {
      service: { type: 'string', minLength: 1, maxLength: 253, description: 'Service name or host name, e.g. "gitea" or "gitea.home.lan".' },
      path: { type: 'string', maxLength: 256, pattern: '^/', description: 'Optional path that fails, e.g. "/api".' },
    },
    required: ['service'],
    additionalProperties: false,
  },
  outputSchema: {
    type: 'object',
    properties: {
      service: { type: 'string' },
      host: { type: 'string' },
      summary: { type: 'string' },
      findings: { type: 'array', items: findingSchema },
      not_checked: { type: 'array', items: { type: 'object', properties: { check: { type: 'string' }, why: { type: 'string' } }, required: ['check', 'why'] } },
    },
    required: ['service', 'host', 'summary', 'findings', 'not_checked'],
  },
  annotations: { title: 'Diagnose a service', readOnlyHint: true, idempotentHint: true, openWorldHint: true },
};

type Unary<Req, Res> = (req: Req, md: grpc.Metadata, opts: Partial<grpc.CallOptions>, cb: (err: grpc.ServiceError | null, res: Res) => void) => grpc.ClientUnaryCall;

function unary<Req, Res>(client: grpc.Client, fn: Unary<Req, Res>, req: Req, deadlineMs: number, signal: AbortSignal): Promise<Res> {
  return new Promise((resolve, reject) => {
    const call = fn.call(client, req, new grpc.Metadata(), { deadline: Date.now() + deadlineMs }, (err, res) => (err ? reject(err) : resolve(res)));
    signal.addEventListener('abort', () => call.cancel(), { once: true });
  });
}

function collect<T>(stream: grpc.ClientReadableStream<T>, signal: AbortSignal): Promise<T[]> {
  return new Promise((resolve, reject) => {
    const out: T[] = [];
    stream.on('data', (d: T) => out.push(d));
    stream.on('end', () => resolve(out));
    stream.on('error', reject);
    signal.addEventListener('abort', () => stream.cancel(), { once: true });
  });
}

/** Clients that share the gateway's one channel per shard (no new connection per call). */
function clientFor<C extends grpc.Client>(shards: readonly ShardConnection[], service: string, make: new (address: string, creds: grpc.ChannelCredentials, options: Partial<grpc.ClientOptions>) => C): C | undefined {
  const shard = shards.find((s) => s.offers(service));
  if (!shard) return undefined;
  return new make(shard.target.address, grpc.credentials.createInsecure(), { channelOverride: shard.client.getChannel() });
}

const why = (err: unknown) => (err as grpc.ServiceError)?.details || (err as Error)?.message || String(err);

/**
 * diagnose_service: a composite of the shards' typed clients. Every check runs
 * in parallel with its own deadline; a missing shard becomes "not checked".
 */
export async function diagnoseService(shards: readonly ShardConnection[], args: { service: string; path?: string }, signal: AbortSignal): Promise<CallToolResult> {
  const input = args.service.trim().toLowerCase();
  const findings: Finding[] = [];
  const notChecked: { check: string; why: string }[] = [];
  const navigator = clientFor(shards, NAVIGATOR, NavigatorServiceClient);
  const watchman = clientFor(shards, WATCHMAN, WatchmanServiceClient);
  const gatekeeper = clientFor(shards, GATEKEEPER, GatekeeperServiceClient);
  const name = input.includes('.') ? (input.split('.')[0] ?? input) : input;

  const routesP = navigator ? unary(navigator, navigator.getRoutes, GetRoutesRequest.fromPartial({}), 8000, signal) : Promise.reject(new Error('the Traefik shard is not serving'));
  const containersP = watchman ? unary(watchman, watchman.listContainers, ListContainersRequest.fromPartial({ all: true }), 8000, signal) : Promise.reject(new Error('the Dozzle shard is not serving'));
  const appsP = gatekeeper ? unary(gatekeeper, gatekeeper.listApplications, ListApplicationsRequest.fromPartial({}), 8000, signal) : Promise.reject(new Error('the Authentik shard is not serving'));
  const [routesR, containersR, appsR] = await Promise.allSettled([routesP, containersP, appsP]);

  // Routers: which serve the host (or the service), and near misses.
  const routes: Route[] = routesR.status === 'fulfilled' ? routesR.value.routes : [];
  let host = input.includes('.') ? input : '';
  let matching: Route[] = [];
  if (routesR.status === 'rejected') notChecked.push({ check: 'traefik routers', why: why(routesR.reason) });
  else {
    if (!host) {
      const byService = routes.filter((r) => r.service.split('@')[0] === name || r.name.split('@')[0] === name);
      host = byService.flatMap((r) => r.hosts)[0] ?? '';
    }
    matching = host ? routes.filter((r) => r.hosts.some((h) => h.toLowerCase() === host)) : [];
    if (host && args.path) matching = matching.filter((r) => r.paths.length === 0 || r.paths.some((p) => args.path?.startsWith(p)));
    if (matching.length === 0) {
      const near = routes.flatMap((r) => r.hosts.map((h) => ({ r, h, d: distance(h.toLowerCase(), host || `${name}.`) }))).filter((x) => host && x.d > 0 && x.d <= 2);
      if (near[0]) {
        findings.push({
          severity: 'critical',
          check: 'traefik router',
          what: `No router matches ${host}; router ${near[0].r.name} has host ${near[0].h} in its rule — a typo?`,
          evidence: [`${near[0].r.name}: ${near[0].r.rule}`],
          fix: `Correct the rule of ${near[0].r.name} to Host(\`${host}\`) where it is defined (provider ${near[0].r.provider}).`,
        });
      } else {
        findings.push({
          severity: 'critical',
          check: 'traefik router',
          what: host ? `No Traefik router serves ${host}: requests get Traefik's 404.` : `No Traefik router mentions a service or router named ${name}.`,
          evidence: [`${routes.length} routers checked`],
          fix: 'Add a route for it.',
          fix_tool: { name: 'add_dynamic_config', arguments: { name, hosts: [host || `${name}.home.lan`], tls: {}, service: { urls: [`http://${name}:80`] } } },
        });
      }
    }
    for (const r of matching) {
      if (r.status === ObjectStatus.OBJECT_STATUS_DISABLED || r.errors.length) {
        findings.push({ severity: 'critical', check: 'traefik router', what: `Router ${r.name} for ${host} is ${r.status === ObjectStatus.OBJECT_STATUS_DISABLED ? 'disabled' : 'in error'}.`, evidence: r.errors.length ? r.errors : [r.rule], fix: 'Fix what Traefik reports (e.g. create the missing middleware or service).' });
      }
      const down = r.servers.filter((s) => s.status === 'DOWN');
      if (r.servers.length && down.length === r.servers.length) {
        findings.push({ severity: 'critical', check: 'traefik service', what: `Service ${r.service} has no healthy server: Traefik answers 503.`, evidence: down.map((s) => `${s.url} DOWN`), fix: 'Start the backend or fix the server URL.' });
      } else if (down.length) {
        findings.push({ severity: 'warning', check: 'traefik service', what: `${down.length} of ${r.servers.length} servers of ${r.service} are DOWN.`, evidence: down.map((s) => `${s.url} DOWN`) });
      }
    }
    const enabled = matching.filter((r) => r.status === ObjectStatus.OBJECT_STATUS_ENABLED);
    if (enabled.length > 1) {
      findings.push({ severity: 'warning', check: 'traefik router', what: `${enabled.length} routers match ${host}; the highest priority wins.`, evidence: enabled.map((r) => `${r.name} priority ${r.priority}: ${r.rule}`) });
    }
  }

  // forwardAuth to Authentik: the application must exist and its provider be bound to an outpost.
  const authMiddlewares = matching.flatMap((r) => r.middlewares).filter((m) => /authentik|forward-?auth/i.test(m));
  if (authMiddlewares.length) {
    if (appsR.status === 'rejected') notChecked.push({ check: 'authentik application', why: why(appsR.reason) });
    else {
      const apps: Application[] = appsR.value.applications;
      const app = apps.find((a) => a.externalHost.replace(/^https?:\/\//, '').replace(/\/.*$/, '').toLowerCase() === host) ?? apps.find((a) => a.slug === name);
      if (!app) {
        findings.push({
          severity: 'critical',
          check: 'authentik application',
          what: `${host} goes through forwardAuth (${authMiddlewares.join(', ')}) but Authentik has no application for it: users get Authentik's "not found" page.`,
          evidence: [`${apps.length} Authentik applications checked`],
          fix: 'Create the application with a forward-auth proxy provider.',
          fix_tool: { name: 'create_application', arguments: { name, slug: name, proxy: { mode: 'PROXY_MODE_FORWARD_SINGLE', external_host: `https://${host}` } } },
        });
      } else if (app.providerType === 'proxy' && app.outposts.length === 0) {
        findings.push({ severity: 'critical', check: 'authentik application', what: `Authentik application ${app.slug} is not bound to any outpost: forwardAuth cannot answer for it.`, evidence: [`provider ${app.providerName}`], fix: 'Bind its provider to the embedded outpost in Authentik.' });
      }
    }
  }

  // TLS certificate of the host.
  const tlsRouters = matching.filter((r) => r.tls);
  const sslP = navigator && host && tlsRouters.length
    ? unary(navigator, navigator.checkSslStatus, CheckSslStatusRequest.fromPartial({ hosts: [host], timeoutMs: 4000 }), 8000, signal)
    : undefined;

  // The container behind it.
  let container: Container | undefined;
  if (containersR.status === 'rejected') notChecked.push({ check: 'container', why: why(containersR.reason) });
  else {
    const all = containersR.value.containers;
    const svcName = matching[0]?.service.split('@')[0];
    container = all.find((c) => c.name === name || c.composeService === name) ?? (svcName ? all.find((c) => c.name === svcName || c.composeService === svcName) : undefined);
    if (!container) findings.push({ severity: 'info', check: 'container', what: `No container named ${name} (it may run elsewhere).`, evidence: [] });
    else if (container.state === 'exited' || container.state === 'dead') {
      findings.push({ severity: 'critical', check: 'container', what: `Container ${container.name} is ${container.state}: nothing answers behind the router.`, evidence: [`state ${container.state}`, container.status], fix: `Read its last lines (tail_logs ${container.name}) and start it again.`, fix_tool: { name: 'tail_logs', arguments: { container: container.name, lines: 50 } } });
    } else if (container.state === 'restarting') {
      findings.push({ severity: 'critical', check: 'container', what: `Container ${container.name} is crash-looping (restarting).`, evidence: [`state ${container.state}`], fix: 'Its logs say why it exits.', fix_tool: { name: 'tail_logs', arguments: { container: container.name, lines: 50 } } });
    } else if (container.health === 'unhealthy') {
      findings.push({ severity: 'critical', check: 'container', what: `Container ${container.name} is unhealthy.`, evidence: ['health unhealthy'] });
    }
  }
  const logsP = watchman && container ? collect<TailLogsResponse>(watchman.tailLogs(TailLogsRequest.fromPartial({ container: container.id, lines: 300 }), new grpc.Metadata(), { deadline: Date.now() + 8000 }), signal) : undefined;

  const [sslR, logsR] = await Promise.allSettled([sslP ?? Promise.resolve(undefined), logsP ?? Promise.resolve(undefined)]);
  if (sslR.status === 'rejected') notChecked.push({ check: 'tls certificate', why: why(sslR.reason) });
  else if (sslR.value) {
    const report: CertificateReport | undefined = sslR.value.reports[0];
    if (report && !report.ok) {
      const resolver = tlsRouters[0]?.tls?.certResolver;
      findings.push({
        severity: 'critical',
        check: 'tls certificate',
        what: report.traefikDefault ? `Traefik serves its default self-signed certificate for ${host}: browsers refuse it.` : report.expired ? `The certificate for ${host} has expired.` : report.problem,
        evidence: [report.problem, ...(report.certificate ? [`subject ${report.certificate.subjectCn}, SANs ${report.certificate.sans.join(', ')}`] : [])],
        fix: resolver ? `Check the ACME resolver ${resolver} in Traefik's log.` : 'Give the router a certificate resolver (tls.cert_resolver) or install a certificate for the host.',
      });
    } else if (report && report.daysLeft < 14) {
      findings.push({ severity: 'warning', check: 'tls certificate', what: `The certificate for ${host} expires in ${report.daysLeft} days.`, evidence: [report.certificate?.issuerCn ?? ''] });
    }
  }
  if (logsR.status === 'rejected') notChecked.push({ check: 'container logs', why: why(logsR.reason) });
  else if (logsR.value) {
    const lines: LogLine[] = logsR.value.flatMap((m) => m.lines);
    const errors = lines.filter((l) => l.level >= 5);
    const statuses = lines.map((l) => /\s([45]\d\d)\s/.exec(l.text)?.[1]).filter((s): s is string => Boolean(s));
    if (errors.length) findings.push({ severity: 'warning', check: 'container logs', what: `${errors.length} error lines in the last ${lines.length} lines of ${container?.name}.`, evidence: errors.slice(-3).map((l) => l.text) });
    if (statuses.length) {
      const counts = statuses.reduce<Record<string, number>>((acc, s) => ((acc[s] = (acc[s] ?? 0) + 1), acc), {});
      findings.push({ severity: 'info', check: 'container logs', what: `HTTP ${Object.entries(counts).map(([k, v]) => `${k}: ${v}`).join(', ')} in recent logs.`, evidence: [] });
    }
  }

  findings.sort((a, b) => SEVERITIES.indexOf(a.severity) - SEVERITIES.indexOf(b.severity));
  const top = findings.find((f) => f.severity === 'critical') ?? findings.find((f) => f.severity === 'warning');
  const summary = top
    ? `${host || name}: ${top.what}${findings.length > 1 ? ` (${findings.length - 1} more finding${findings.length > 2 ? 's' : ''})` : ''}`
    : `${host || name}: no problem found in ${[navigator && 'routing', navigator && 'certificate', watchman && 'container and logs', gatekeeper && 'authentication'].filter(Boolean).join(', ')}.`;
  if (!top) findings.unshift({ severity: 'ok', check: 'all', what: 'Router, servers, certificate and container look healthy.', evidence: [] });
  // The clients share the shards' channels: closing them would close those.
  const structured = { service: args.service, host, summary, findings, not_checked: notChecked };
  const text = [summary, ...findings.map((f) => `- [${f.severity}] ${f.what}${f.fix ? ` Fix: ${f.fix}` : ''}`), ...notChecked.map((n) => `- not checked: ${n.check} (${n.why})`)].join('\n');
  return { content: [{ type: 'text', text }], structuredContent: structured };
}
