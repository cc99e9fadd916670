import type { TraceMiddleware } from '@homelab-mcp/proto/ts/homelab/traefik/v1/navigator.js';
import type { Application } from '@homelab-mcp/proto/ts/homelab/authentik/v1/gatekeeper.js';
import type { Container } from '@homelab-mcp/proto/ts/homelab/dozzle/v1/watchman.js';
import type { Check, Facts, Finding } from '../types.js';
import { middlewareChain, settingsOf } from './middleware.js';
import { hostOf } from '../labels.js';

const EMBEDDED = /embedded outpost/i;
const forwardAuths = (f: Facts) => middlewareChain(f).filter((m) => m.type === 'forwardauth');
const addressOf = (m: TraceMiddleware) => String((settingsOf(m).address as string | undefined) ?? /https?:\/\/\S+/.exec(m.effect)?.[0] ?? '');

function auth(what: string, evidence: string[], fix: string, fixTool?: Finding['fix_tool']): Finding {
  return { severity: 'critical', cause: 'auth', check: 'auth', what, evidence, fix, ...(fixTool ? { fix_tool: fixTool } : {}) };
}

/** The outpost container forwardAuth's address names: it must exist and run. */
function outpostContainer(f: Facts, m: TraceMiddleware): { container?: Container; finding?: Finding } {
  const address = addressOf(m);
  const host = hostOf(address);
  if (!host || /^[\d.]+$/.test(host) || host.includes('.')) return {};
  const c = f.containers?.find((x) => x.name.toLowerCase() === host || x.composeService.toLowerCase() === host);
  if (!c) return { finding: auth(`forwardAuth ${m.name} asks ${address}, but no container is named ${host}: every request fails at the auth step.`, [`containers: ${(f.containers ?? []).map((x) => x.name).join(', ')}`], `Point ${m.name}'s address at the Authentik outpost that runs (e.g. http://${f.containers?.find((x) => /authentik/i.test(x.name) && x.state === 'running')?.name ?? 'authentik-server'}:9000/outpost.goauthentik.io/auth/traefik), or start the outpost container ${host}.`) };
  if (c.state !== 'running') return { finding: auth(`forwardAuth ${m.name} asks ${address}, but container ${c.name} is ${c.state}.`, [`${c.name}: ${c.status}`], `Start ${c.name} (docker compose up -d ${c.composeService || c.name}).`, { name: 'tail_logs', arguments: { container: c.name, lines: 100 } }) };
  return { container: c };
}

function appFor(f: Facts): { app?: Application; byName?: Application } {
  const host = f.target.host ?? '';
  const app = f.apps?.find((a) => hostOf(a.externalHost) === host);
  const name = f.target.name ?? host.split('.')[0] ?? '';
  return { ...(app ? { app } : {}), ...(!app ? { byName: f.apps?.find((a) => a.slug === name || a.name.toLowerCase() === name) } : {}) } as { app?: Application; byName?: Application };
}

function appFindings(f: Facts, m: TraceMiddleware, outpost: Container): Finding[] {
  const host = f.target.host ?? '';
  const { app, byName } = appFor(f);
  if (!app && byName) return [auth(`Authentik application ${byName.slug} has external host ${byName.externalHost}, not https://${host}: after login Authentik sends users to the other host and back again (an auth loop).`, [`${byName.slug}: ${byName.externalHost}`], `Set the external host of provider ${byName.providerName} to https://${host}.`)];
  if (!app) {
    const slug = f.target.name ?? host.split('.')[0] ?? host;
    return [auth(`${host} goes through forwardAuth (${m.name}) but Authentik has no application for it: users get Authentik's "not found" page.`, [`${f.apps?.length ?? 0} Authentik applications checked`], 'Create the application with a forward-auth proxy provider (the tool call below), bound to the outpost forwardAuth asks.', { name: 'create_application', arguments: { name: slug, slug, proxy: { mode: 'PROXY_MODE_FORWARD_SINGLE', external_host: `https://${host}` } } })];
  }
  if (app.providerType === 'proxy' && app.proxyMode === 'proxy') return [auth(`Authentik application ${app.slug}'s provider is in proxy mode; forwardAuth needs forward_single or forward_domain.`, [`provider ${app.providerName}: mode ${app.proxyMode}`], `Set provider ${app.providerName}'s mode to "Forward auth (single application)".`)];
  const embedded = /server/i.test(outpost.name) || /server/i.test(outpost.composeService) || /goauthentik\/server/i.test(outpost.image);
  const serving = app.outposts.filter((o) => EMBEDDED.test(o) === embedded);
  if (serving.length) return [];
  const which = embedded ? 'the embedded outpost (in authentik-server)' : `the outpost running in ${outpost.name}`;
  return [auth(`forwardAuth ${m.name} asks ${which}, but application ${app.slug}'s provider is not bound to it: the outpost answers 404 for ${host}.`, [`${app.slug}: provider ${app.providerName}, outposts: ${app.outposts.join(', ') || 'none'}`], `In Authentik, add provider ${app.providerName} to ${embedded ? 'the "authentik Embedded Outpost"' : `the outpost that runs in ${outpost.name}`} (Applications > Outposts > Edit).`)];
}

/** forwardAuth must reach an Authentik outpost that exists and serves this application's provider. */
export const authCheck: Check = {
  id: 'auth',
  needs: ['trace', 'containers', 'apps'],
  irrelevant: (f) => (forwardAuths(f).length ? undefined : 'no forwardAuth on the request\'s way'),
  run(f) {
    for (const m of forwardAuths(f)) {
      const { container, finding } = outpostContainer(f, m);
      if (finding) return [finding];
      if (container) {
        const found = appFindings(f, m, container);
        if (found.length) return found;
      }
    }
    return [];
  },
};
