import { distance } from 'fastest-levenshtein';
import type { Route } from '@homelab-mcp/proto/ts/homelab/traefik/v1/navigator.js';
import type { Container } from '@homelab-mcp/proto/ts/homelab/dozzle/v1/watchman.js';
import type { Application } from '@homelab-mcp/proto/ts/homelab/authentik/v1/gatekeeper.js';
import { bare, hostOf, hostsInRule, routerLabelFix } from './labels.js';
import type { Target } from './types.js';

interface Candidate {
  host: string;
  via: string;
  router?: string;
}

const firstLabel = (host: string) => host.split('.')[0] ?? host;

/** Hosts tied to the name by a router, a container's labels or an Authentik application. */
function candidates(name: string, routes: readonly Route[], containers: readonly Container[], apps: readonly Application[]): Candidate[] {
  const out: Candidate[] = [];
  for (const r of routes) if (bare(r.name).toLowerCase() === name || bare(r.service).toLowerCase() === name) out.push(...r.hosts.map((h) => ({ host: h.toLowerCase(), via: `router ${r.name}`, router: r.name })));
  for (const c of containers) {
    if (c.name.toLowerCase() !== name && c.composeService.toLowerCase() !== name) continue;
    for (const [k, v] of Object.entries(c.traefikLabels)) if (/\.rule$/i.test(k)) out.push(...hostsInRule(v).map((host) => ({ host, via: `label ${k} of container ${c.name}`, router: `${k.split('.')[3]}@docker` })));
  }
  for (const a of apps) if (a.slug.toLowerCase() === name || a.name.toLowerCase() === name) if (hostOf(a.externalHost)) out.push({ host: hostOf(a.externalHost), via: `Authentik application ${a.slug}` });
  return out;
}

function allHosts(routes: readonly Route[], containers: readonly Container[], apps: readonly Application[]): string[] {
  const labelHosts = containers.flatMap((c) => Object.entries(c.traefikLabels).filter(([k]) => /\.rule$/i.test(k)).flatMap(([, v]) => hostsInRule(v)));
  return [...new Set([...routes.flatMap((r) => r.hosts.map((h) => h.toLowerCase())), ...labelHosts, ...apps.map((a) => hostOf(a.externalHost)).filter(Boolean)])];
}

/** A host one or two edits from the name: a typo, to report, never to adopt. */
function typoFinding(name: string, c: Candidate, expected: string): Target['findings'][number] {
  return {
    severity: 'critical',
    cause: 'rule',
    check: 'resolve',
    what: `The host nearest to "${name}" is ${c.host} (${c.via}), which differs from the name: a typo in the rule? Requests for ${expected} find no router.`,
    evidence: [`${c.via}: ${c.host}`, `edit distance ${distance(firstLabel(c.host), name)} from "${name}"`],
    fix: c.router ? routerLabelFix(c.router, `Host(\`${expected}\`)`) : `Use ${expected} where ${c.via} says ${c.host}.`,
  };
}

/** From a name, a host or a URL to the request to follow. */
export function resolveTarget(input: string, path: string | undefined, routes: readonly Route[], containers: readonly Container[], apps: readonly Application[]): Target {
  const raw = input.trim();
  if (/^https?:\/\//i.test(raw)) return { input, url: raw, host: hostOf(raw), via: 'the URL given', findings: [] };
  if (raw.includes('.')) return { input, url: `https://${raw.toLowerCase()}${path ?? '/'}`, host: raw.toLowerCase(), via: 'the host given', findings: [] };
  const name = raw.toLowerCase();
  const found = candidates(name, routes, containers, apps);
  const exact = found.find((c) => firstLabel(c.host) === name);
  const typo = found.find((c) => c.host !== exact?.host && distance(firstLabel(c.host), name) <= 2);
  const chosen = exact ?? (typo ? undefined : found[0]);
  if (chosen) return { input, name, url: `https://${chosen.host}${path ?? '/'}`, host: chosen.host, via: chosen.via, findings: [] };
  const near = typo ?? allHosts(routes, containers, apps).map((host) => ({ host, via: 'a known host' })).find((c) => distance(firstLabel(c.host), name) <= 2);
  if (!near) return { input, name, via: 'nothing: no router, container or application has this name', findings: [] };
  const expected = `${name}.${near.host.split('.').slice(1).join('.')}`;
  return { input, name, url: `https://${expected}${path ?? '/'}`, host: expected, via: `the name and the domain of ${near.host}`, findings: [typoFinding(name, near, expected)] };
}
