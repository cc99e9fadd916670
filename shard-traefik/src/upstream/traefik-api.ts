import { HttpStatusError, upstreamError } from '@homelab-mcp/shard-kit';
import type { Named, RawData } from '@homelab-mcp/upstream-types/traefik.js';

/** The API's router and service as the lists show them (with name and provider). */
export type { RawData, RouterRepresentation as ApiRouter, ServiceRepresentation as ApiService } from '@homelab-mcp/upstream-types/traefik.js';

/** The objects of one kind of a RawData as the lists show them, with name and provider (after the first @, as Traefik's getProviderName). */
export function rawItems<T extends Named>(kind: Record<string, Omit<T, keyof Named>> | undefined): T[] {
  return Object.entries(kind ?? {}).map(([name, v]) => ({ ...v, name, provider: name.slice(name.indexOf('@') + 1) }) as T);
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

  /** Everything Traefik runs (routers, services, middlewares of every protocol) in one request. */
  async rawData(signal: AbortSignal): Promise<RawData> {
    return (await this.rawDataRead(signal)).raw;
  }

  /** rawData, with the text it was parsed from (to keep as a snapshot). */
  async rawDataRead(signal: AbortSignal): Promise<{ raw: RawData; text: string }> {
    const text = await (await this.get('/rawdata', signal)).text();
    return { raw: JSON.parse(text) as RawData, text };
  }

  async version(signal: AbortSignal): Promise<{ Version: string }> {
    return (await (await this.get('/version', signal)).json()) as { Version: string };
  }
}
