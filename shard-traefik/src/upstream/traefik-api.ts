import { HttpStatusError, upstreamError } from '@homelab-mcp/shard-kit';

export interface ApiRouter {
  name: string;
  provider: string;
  rule?: string;
  service?: string;
  entryPoints?: string[];
  middlewares?: string[];
  priority?: number | string;
  priorityStr?: string;
  tls?: { certResolver?: string; options?: string; domains?: { main?: string; sans?: string[] }[]; passthrough?: boolean };
  /** "v2" for routers evaluated with the v2 matchers. */
  ruleSyntax?: string;
  /** Entry points the router is actually on (unknown ones dropped). */
  using?: string[];
  status: string;
  error?: string[];
}

export interface ApiService {
  name: string;
  provider: string;
  status: string;
  serverStatus?: Record<string, string>;
  loadBalancer?: { servers?: { url?: string; address?: string }[] };
}

/** Traefik's API (v3): GET only, lists paged with X-Next-Page. */
export class TraefikApi {
  constructor(private readonly base: string) {}

  get description(): string {
    return `Traefik API at ${this.base}`;
  }

  private async get(path: string, signal: AbortSignal): Promise<Response> {
    const url = `${this.base.replace(/\/$/, '')}${path}`;
    let res: Response;
    try {
      res = await fetch(url, { signal });
    } catch (err) {
      throw upstreamError(err, 'Traefik API');
    }
    if (!res.ok) throw upstreamError(new HttpStatusError(res.status, await res.text(), url), 'Traefik API');
    return res;
  }

  /** Every item of a list endpoint, following X-Next-Page. */
  async list<T>(path: string, signal: AbortSignal): Promise<T[]> {
    const all: T[] = [];
    for (let page = 1; ; ) {
      const res = await this.get(`${path}?page=${page}&per_page=100`, signal);
      all.push(...((await res.json()) as T[]));
      const next = Number(res.headers.get('x-next-page') ?? '1');
      if (!(next > page)) return all;
      page = next;
    }
  }

  /** One object by full name (name@provider), or undefined when Traefik has none. */
  async find<T>(kind: string, name: string, signal: AbortSignal): Promise<T | undefined> {
    try {
      return (await (await this.get(`/${kind}/${encodeURIComponent(name)}`, signal)).json()) as T;
    } catch (err) {
      if ((err as { code?: string }).code === 'NOT_FOUND') return undefined;
      throw err;
    }
  }

  async version(signal: AbortSignal): Promise<{ Version: string }> {
    return (await (await this.get('/version', signal)).json()) as { Version: string };
  }
}
