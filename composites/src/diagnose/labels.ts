/** Hosts named in a rule's Host(...) matchers. */
export function hostsInRule(rule: string): string[] {
  return [...rule.matchAll(/Host\(([^)]*)\)/gi)].flatMap((m) => [...(m[1] ?? '').matchAll(/[`"]([^`"]+)[`"]/g)].map((h) => (h[1] ?? '').toLowerCase()));
}

const provider = (router: string) => router.split('@')[1] ?? '';
/** A router, service or middleware name without its @provider. */
export const bare = (name: string) => name.split('@')[0] ?? name;

/** The lower-case host of a URL, or '' when it is not one. */
export function hostOf(url: string): string {
  try {
    return new URL(url).hostname.toLowerCase();
  } catch {
    return '';
  }
}

/** Where to change a router's setting: its Docker label, or its entry in the file provider. */
export function routerLabelFix(router: string, rule: string, key = 'rule'): string {
  if (provider(router) === 'docker') return `Set the label traefik.http.routers.${bare(router)}.${key}=${rule} on its container and recreate it (docker compose up -d).`;
  return `In the ${provider(router) || 'provider'}'s configuration, set http.routers.${bare(router)}.${key} to ${rule}.`;
}

/** Where to change a service's server port. */
export function servicePortFix(service: string, port: number, serverUrl: string): string {
  const name = bare(service);
  if (provider(service) === 'docker') return `Set the label traefik.http.services.${name}.loadbalancer.server.port=${port} on its container and recreate it.`;
  const u = new URL(serverUrl);
  u.port = String(port);
  return `In the ${provider(service) || 'provider'}'s configuration, change the server ${serverUrl} of http.services.${name} to ${u.origin}.`;
}

/** A container's traefik.enable label (key as written, value), matched case-insensitively as Traefik reads labels. */
export function enableLabel(c: { traefikLabels: Record<string, string> }): { key: string; value: string } | undefined {
  const key = Object.keys(c.traefikLabels).find((k) => k.toLowerCase() === 'traefik.enable');
  return key === undefined ? undefined : { key, value: c.traefikLabels[key]! };
}
