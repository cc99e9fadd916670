import {
  Configuration,
  CoreApi,
  FlowsApi,
  ManagedApi,
  OutpostsApi,
  ProvidersApi,
  ResponseError,
  BaseAPI,
  type Flow,
} from '@goauthentik/api';
import { HttpStatusError, ShardError, upstreamError } from '@homelab-mcp/shard-kit';

const WHAT = 'Authentik API';

/** Maps the generated client's errors (ResponseError, FetchError) to ShardErrors. */
export async function call<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof ResponseError) {
      const body = await err.response.text().catch(() => '');
      if (err.response.status === 403 && /Token invalid|credentials were not provided|Unsupported authentication/.test(body)) {
        throw new ShardError('UNAUTHENTICATED', `Authentik rejected the API token: ${body}`, { reason: 'TOKEN_REJECTED', hint: 'Create a new API token (intent "API") in Authentik and put it in AUTHENTIK_TOKEN_FILE.' });
      }
      throw upstreamError(new HttpStatusError(err.response.status, body, err.response.url), WHAT);
    }
    throw upstreamError((err as { cause?: unknown })?.cause ?? err, WHAT);
  }
}

/** The legacy flow import endpoint (Authentik up to 2026.2), through the client's own runtime. */
class LegacyFlowImport extends BaseAPI {
  constructor(config: Configuration, private readonly token: string) {
    super(config);
  }

  async importFlow(yaml: string, clear: boolean, signal: AbortSignal): Promise<{ success: boolean; logs: string[] }> {
    const form = new FormData();
    form.append('file', new Blob([yaml], { type: 'application/yaml' }), 'flow.yaml');
    form.append('clear', String(clear));
    try {
      await this.request({ path: '/flows/instances/import/', method: 'POST', headers: { Authorization: `Bearer ${this.token}` }, body: form }, { signal });
      return { success: true, logs: [] };
    } catch (err) {
      if (err instanceof ResponseError && err.response.status === 400) {
        const body = (await err.response.json().catch(() => ({}))) as { success?: boolean; logs?: { event?: string }[] };
        return { success: false, logs: (body.logs ?? []).map((l) => l.event ?? JSON.stringify(l)) };
      }
      throw err;
    }
  }
}

/** One Authentik API token, the generated client per API group. */
export class Authentik {
  readonly core: CoreApi;
  readonly flows: FlowsApi;
  readonly providers: ProvidersApi;
  readonly outposts: OutpostsApi;
  readonly managed: ManagedApi;
  private readonly legacy: LegacyFlowImport;

  constructor(readonly origin: string, token: string) {
    const config = new Configuration({ basePath: `${origin}/api/v3`, accessToken: async () => token });
    this.core = new CoreApi(config);
    this.flows = new FlowsApi(config);
    this.providers = new ProvidersApi(config);
    this.outposts = new OutpostsApi(config);
    this.managed = new ManagedApi(config);
    this.legacy = new LegacyFlowImport(config, token);
  }

  get description(): string {
    return `${WHAT} at ${this.origin}`;
  }

  async flowBySlug(slug: string, signal: AbortSignal): Promise<Flow> {
    const res = await call(() => this.flows.flowsInstancesList({ slug }, { signal }));
    const flow = res.results[0];
    if (!flow) throw new ShardError('NOT_FOUND', `Authentik has no flow "${slug}"`, { reason: 'FLOW_NOT_FOUND', hint: 'manage_flows with action list shows the flows there are.' });
    return flow;
  }

  /** Every page of a list endpoint. */
  async all<T>(list: (page: number) => Promise<{ results: T[]; pagination: { next: number } }>): Promise<T[]> {
    const out: T[] = [];
    for (let page = 1; page > 0; ) {
      const res = await call(() => list(page));
      out.push(...res.results);
      page = res.pagination.next || 0;
    }
    return out;
  }

  /** Imports a flow blueprint with the import endpoint of the running release line. */
  async importFlow(yaml: string, clear: boolean, signal: AbortSignal): Promise<{ success: boolean; logs: string[] }> {
    try {
      const res = await this.managed.managedBlueprintsImportCreate({ file: new Blob([yaml], { type: 'application/yaml' }) }, { signal });
      return { success: res.success, logs: res.logs.map((l) => String((l as { event?: unknown }).event ?? JSON.stringify(l))) };
    } catch (err) {
      if (err instanceof ResponseError && (err.response.status === 404 || err.response.status === 405)) {
        return call(() => this.legacy.importFlow(yaml, clear, signal));
      }
      return call(() => Promise.reject(err));
    }
  }
}
