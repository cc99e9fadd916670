import { ShardError, completeFrom, toTimestamp, type ShardHandlers } from '@homelab-mcp/shard-kit';
import { Role } from '@homelab-mcp/proto/ts/homelab/mcp/v1/surface.js';
import { GetRoutesRequest, ObjectStatus, type NavigatorServiceService, type Route } from '@homelab-mcp/proto/ts/homelab/traefik/v1/navigator.js';
import type { DynamicStore } from './dynamic/store.js';
import { NAME } from './dynamic/model.js';
import { getRoutes } from './routes.js';
import type { TraefikApi } from './upstream/traefik-api.js';

type SurfaceHandlers = Pick<
  ShardHandlers<typeof NavigatorServiceService>,
  | 'readDynamicConfig'
  | 'watchDynamicConfig'
  | 'listDynamicConfigResources'
  | 'readRoutesSnapshot'
  | 'completeRouters'
  | 'completeHosts'
  | 'completeDynamicConfigs'
  | 'diagnoseServicePrompt'
  | 'exposeContainerPrompt'
>;

const STATUS_WORD: Record<number, string> = { [ObjectStatus.OBJECT_STATUS_ENABLED]: 'enabled', [ObjectStatus.OBJECT_STATUS_WARNING]: 'warning', [ObjectStatus.OBJECT_STATUS_DISABLED]: 'disabled' };

const allRoutes = (api: TraefikApi, signal: AbortSignal) => getRoutes(api, GetRoutesRequest.fromPartial({}), signal);

function describeRoute(r: Route): string {
  const servers = r.servers.map((s) => `${s.url}${s.status ? ` ${s.status}` : ''}`).join(', ') || 'none reported';
  return [
    `- ${r.name} (${STATUS_WORD[r.status] ?? 'status unknown'}): rule ${r.rule || '(none)'}; entry points ${r.entryPoints.join(', ') || '(all)'}; ${r.tls ? `TLS${r.tls.certResolver ? ` via ${r.tls.certResolver}` : ''}` : 'no TLS'}`,
    `  middlewares: ${r.middlewares.join(', ') || 'none'}; service ${r.service || '(none)'}; servers: ${servers}`,
    ...(r.errors.length ? [`  errors: ${r.errors.join('; ')}`] : []),
  ].join('\n');
}

/** The Navigator's resources (its dynamic files, a routes snapshot), their completions and its prompts. */
export function createSurfaceHandlers(api: TraefikApi, store: DynamicStore): SurfaceHandlers {
  return {
    readDynamicConfig: async (req) => {
      const text = await store.read(req.name);
      if (text === undefined) {
        const names = (await store.list()).map((f) => f.name);
        throw new ShardError('NOT_FOUND', `no dynamic configuration file for "${req.name}" (${store.fileName(req.name)})`, {
          reason: 'NO_SUCH_FILE',
          hint: names.length ? `The shard's files are for: ${names.join(', ')}.` : 'The shard has written no files yet; add_dynamic_config writes one.',
        });
      }
      return { contents: [{ uri: '', mimeType: 'application/yaml', text }] };
    },

    watchDynamicConfig: async function* (req, ctx) {
      store.fileName(req.name);
      for await (const _ of store.changes(req.name, ctx.signal)) yield { exists: (await store.read(req.name).catch(() => undefined)) !== undefined };
    },

    listDynamicConfigResources: async () => ({
      resources: (await store.list()).map((f) => ({
        uri: `traefik://dynamic/${f.name}`,
        name: f.file,
        title: f.file,
        description: `Routers ${f.routers.join(', ') || 'none'}; services ${f.services.join(', ') || 'none'}; middlewares ${f.middlewares.join(', ') || 'none'}.`,
        mimeType: 'application/yaml',
      })),
    }),

    readRoutesSnapshot: async (_req, ctx) => {
      const { routes } = await allRoutes(api, ctx.signal);
      return { routes, total: routes.length, takenAt: toTimestamp(new Date()) };
    },

    completeRouters: async (req, ctx) => completeFrom((await allRoutes(api, ctx.signal)).routes.map((r) => r.name).sort(), req.value),

    completeHosts: async (req, ctx) => completeFrom((await allRoutes(api, ctx.signal)).routes.flatMap((r) => r.hosts).sort(), req.value),

    completeDynamicConfigs: async (req) => completeFrom((await store.list()).map((f) => f.name).sort(), req.value),

    diagnoseServicePrompt: async (req, ctx) => {
      const { routes } = await allRoutes(api, ctx.signal);
      const host = req.host.toLowerCase();
      const matching = routes.filter((r) => r.hosts.some((h) => h.toLowerCase() === host) || (req.router && r.name === req.router));
      const text = [
        `Diagnose the service on ${req.host}${req.router ? ` (router ${req.router} first)` : ''}: say what is wrong, why, and the exact fix.`,
        matching.length ? `Traefik has ${matching.length} router${matching.length === 1 ? '' : 's'} for it now:` : `No Traefik router names ${req.host} in its rule now: that alone explains a 404.`,
        ...matching.map(describeRoute),
        'Steps: call diagnose_service with this host for the findings across Traefik, the container and Authentik; ' +
          `trace_request with url "https://${req.host}/" to see which router wins and why the others do not; ` +
          'check_ssl_status for the certificate; tail_logs or search_logs on the container behind the service; ' +
          'get_container_stats if it restarts. Propose changes as plans (add_dynamic_config without plan_id) and apply only what the user confirms.',
      ].join('\n');
      return { description: `Diagnose ${req.host}`, messages: [{ role: Role.ROLE_USER, content: { text } }] };
    },

    exposeContainerPrompt: async (req, ctx) => {
      if (!NAME.test(req.name)) throw new ShardError('INVALID_ARGUMENT', `name "${req.name}" must be lowercase letters, digits and dashes, e.g. "pinchflat"`, { fieldViolations: [{ field: 'name', description: 'lowercase letters, digits and dashes' }] });
      const { routes } = await allRoutes(api, ctx.signal);
      const taken = routes.filter((r) => r.hosts.some((h) => h.toLowerCase() === req.host.toLowerCase()) || r.name.split('@')[0] === req.name);
      const text = [
        `Expose ${req.backendUrl} on https://${req.host}/ as the Traefik route "${req.name}"${req.protect ? ', protected by Authentik forward auth' : ''}.`,
        taken.length ? `Careful: these routers already use that name or host:\n${taken.map(describeRoute).join('\n')}` : 'No router uses that name or host yet.',
        'Steps, each a plan shown to the user before it is applied with its plan_id:',
        ...(req.protect
          ? [
              `1. create_application with slug "${req.name}", name "${req.name}" and a proxy provider in forward_single mode for external host "https://${req.host}"; note the Traefik middleware it returns.`,
              `2. add_dynamic_config with name "${req.name}", hosts ["${req.host}"], TLS, service urls ["${req.backendUrl}"], and that forward-auth middleware (middlewares or new_middlewares).`,
            ]
          : [`1. add_dynamic_config with name "${req.name}", hosts ["${req.host}"], TLS, and service urls ["${req.backendUrl}"].`]),
        `Then confirm: trace_request with url "https://${req.host}/" shows the new router winning, check_ssl_status shows a valid certificate, and diagnose_service ${req.host} finds nothing.`,
      ].join('\n');
      return { description: `Expose ${req.name} on ${req.host}`, messages: [{ role: Role.ROLE_USER, content: { text } }] };
    },
  };
}
