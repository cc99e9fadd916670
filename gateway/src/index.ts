import { AjvJsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/ajv-provider.js';
import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { AuditLog } from './trust/audit.js';
import type { GatewayConfig, ShardTarget } from './config.js';
import { ShardConnection, type ShardStatus } from './discovery/shard-connection.js';
import { watchShardFile } from './discovery/reload.js';
import { ToolTable, type ToolEntry } from './discovery/tool-table.js';
import { loadOrCreateToken } from './mcp/auth.js';
import { startMcpHttpServer } from './http/http-server.js';
import { createMcpServer, type McpCore } from './mcp/mcp-server.js';
import { auditObserver, auditRefusedCall, logObserver, metricsObserver } from './call/observers.js';
import { createMetrics, type GatewayMetrics } from './mcp/metrics.js';
import { PlanRegistry } from './call/plans.js';
import { createOwnTools } from './mcp/own-tools.js';
import { renderStatus } from './mcp/status-tool.js';
import { sessionLogOf } from './mcp/session-log.js';
import { Subscriptions } from './surface/subscriptions.js';
import { SurfaceTable } from './surface/surface-table.js';
import { Approvals } from './approval/approvals.js';
import { createAwaitApprovalTool } from './approval/await-tool.js';
import { callTool } from './call/pipeline.js';
import { ALL_SCOPES } from './trust/principal.js';
import { createConsole } from './console/console-routes.js';
import { createAuthenticator } from './http/authentication.js';
import { DiagnosisLog } from './console/diagnoses.js';
import { DIAGNOSE_TOOL_NAME } from '@homelab-mcp/composites';

export { parseGatewayConfig, ConfigError, type GatewayConfig, type ShardTarget } from './config.js';
export type { ShardState, ShardStatus } from './discovery/shard-connection.js';

export interface Gateway {
  /** The MCP endpoint, e.g. http://127.0.0.1:8765/mcp. */
  url: string;
  port: number;
  /** The bearer token clients must send; undefined when auth is `none`. */
  token?: string;
  /** True when this start created the token file: the launcher shows the token once, then. */
  tokenCreated: boolean;
  /** What tools/list answers right now. */
  tools(): Tool[];
  /** The exact schema a tool's arguments are checked against (tools/list shows its portable form). */
  validationSchema(tool: string): object | undefined;
  shards(): ShardStatus[];
  metrics: GatewayMetrics;
  /** Who applies plans: the model (with the plan id) or only a person (GATEWAY_APPROVAL). */
  approval: GatewayConfig['approval'];
  /** Plans waiting for a person; present under GATEWAY_APPROVAL=human. */
  approvals?: Approvals;
  /** Resolves on the next tools/list change (tests and the launcher wait on it). */
  nextToolsChange(): Promise<void>;
  close(): Promise<void>;
}

function toMcpTool(entry: ToolEntry): Tool {
  const { spec } = entry;
  return {
    name: entry.name,
    ...(spec.title ? { title: spec.title } : {}),
    description: spec.description,
    inputSchema: spec.publishedInputSchema as Tool['inputSchema'],
    outputSchema: spec.outputSchema as Tool['outputSchema'],
    annotations: spec.annotations,
  };
}

/** Starts discovery and the MCP HTTP server; everything is torn down by close(). */
export async function startGateway(config: GatewayConfig, logger: Logger): Promise<Gateway> {
  const tokenFile = config.auth.mode === 'token' ? loadOrCreateToken(config.auth.tokenFile) : undefined;
  if (tokenFile?.created) logger.info({ file: config.auth.tokenFile }, 'created a bearer token for MCP clients (mode 0600)');
  if (config.auth.mode === 'none') logger.warn('authentication is off: only loopback clients can reach the gateway');

  const metrics = createMetrics();
  const connect = (target: ShardTarget) => new ShardConnection(target, { tls: config.tls, reconnect: config.reconnect, keepalive: config.keepalive, logger });
  const shards = config.shards.map(connect);
  let catalog: Tool[] = [];
  const auditFile = join(config.dataDir, 'audit.log');
  const audit = new AuditLog(auditFile, logger);
  const approvals = config.approval === 'human' ? new Approvals(audit) : undefined;
  const diagnoses = new DiagnosisLog();
  const ownTools = diagnoses.watch(createOwnTools(shards, () => catalog.length, approvals ? [createAwaitApprovalTool(approvals)] : []), DIAGNOSE_TOOL_NAME);
  const table = new ToolTable(shards, new Set(ownTools.keys()));
  const rebuildCatalog = () => {
    catalog = [...[...ownTools.values()].map((t) => t.definition), ...table.listed().map(toMcpTool)];
  };
  rebuildCatalog();

  const surface = new SurfaceTable(shards, logger);
  const subscriptions = new Subscriptions(surface, shards, logger);
  const core: McpCore = {
    table,
    plans: new PlanRegistry(config.planTtlMs),
    ...(approvals ? { approvals } : {}),
    calls: config.calls,
    logger,
    ownTools,
    observers: [metricsObserver(metrics), auditObserver(audit), logObserver(logger), ...(approvals ? [approvals.observer()] : [])],
    listTools: () => catalog,
    validator: new AjvJsonSchemaValidator(),
    elicitation: !config.sessions.jsonResponse,
    surface,
    subscriptions,
  };

  // An approved plan is applied as the caller that planned it, through the same stages, with the approval attached.
  approvals?.setApply((plan, decision) =>
    callTool(core, plan.tool, { ...plan.arguments, plan_id: plan.id }, { subject: plan.subject, scopes: [...ALL_SCOPES], signal: AbortSignal.timeout(config.calls.maxTimeoutMs), approval: { planId: plan.id, by: decision.by, via: decision.via } }),
  );

  const health = () => {
    const states = shards.map((s) => s.status());
    return {
      status: states.every((s) => s.state === 'serving') ? ('ok' as const) : ('degraded' as const),
      tools: catalog.length,
      sessions: http.sessionCount(),
      shards: states.map((s) => ({ name: s.name, state: s.state, since: s.since.toISOString(), toolCount: s.toolCount, ...(s.lastError ? { lastError: s.lastError } : {}) })),
    };
  };

  const consolePages = createConsole({
    config,
    logger,
    authenticate: createAuthenticator(config, tokenFile?.token),
    shards,
    ...(approvals ? { approvals } : {}),
    auditFile,
    baseUrl: () => config.publicUrl ?? http.url.replace(/\/mcp$/, ''),
    listedTools: () => catalog.length,
    diagnoses,
    runTool: (name, args, caller, signal) => callTool(core, name, args, { ...caller, signal }),
  });

  const http = await startMcpHttpServer({
    console: consolePages.serve,
    config,
    token: tokenFile?.token,
    logger,
    metrics,
    createServer: () => createMcpServer(core),
    health,
    refusedCall: (subject, tool, args, reason) => auditRefusedCall({ table, audit }, subject, tool, args, reason),
  });

  if (approvals) approvals.consoleUrl = `${config.publicUrl ?? http.url.replace(/\/mcp$/, '')}/console`;

  surface.on('resourcesChanged', () => {
    for (const server of http.servers()) server.sendResourceListChanged().catch(() => undefined);
  });
  surface.on('promptsChanged', () => {
    for (const server of http.servers()) server.sendPromptListChanged().catch(() => undefined);
  });
  const waiters: (() => void)[] = [];
  table.on('changed', () => {
    rebuildCatalog();
    logger.info({ tools: catalog.length }, 'tool list changed');
    for (const server of http.servers()) server.sendToolListChanged().catch(() => undefined);
    for (const w of waiters.splice(0)) w();
  });
  const updateGauges = () => {
    metrics.shardUp.reset();
    for (const s of shards.map((x) => x.status())) metrics.shardUp.set({ shard: s.name, state: s.state }, s.state === 'serving' ? 1 : 0);
  };
  const follow = (shard: ShardConnection) => {
    const onChange = () => {
      const st = shard.status();
      updateGauges();
      const level = st.state === 'serving' ? 'info' : 'warning';
      for (const server of http.servers()) {
        sessionLogOf(server)
          .send({ level, logger: 'homelab-mcp.discovery', data: renderStatus(st) })
          .catch(() => undefined);
      }
    };
    shard.on('change', onChange);
    onChange();
    shard.start();
  };
  for (const shard of shards) follow(shard);
  const stopWatching = config.shardFile && config.rereadShards
    ? watchShardFile(config.shardFile, config.rereadShards, shards, {
        create: connect,
        added: (shard) => {
          table.track(shard);
          surface.track(shard);
          subscriptions.track(shard);
          follow(shard);
          consolePages.shardsChanged(shard);
        },
        removed: () => {
          table.refresh();
          surface.refresh();
          updateGauges();
          consolePages.shardsChanged();
        },
      }, logger)
    : undefined;
  logger.info({ url: http.url, shards: config.shards.map((s) => `${s.name}=${s.address}`), auth: config.auth.mode, approval: config.approval, stateless: config.sessions.stateless }, 'gateway listening');

  return {
    url: http.url,
    port: http.port,
    ...(tokenFile ? { token: tokenFile.token } : {}),
    tokenCreated: tokenFile?.created ?? false,
    tools: () => catalog,
    validationSchema: (name) => table.find(name)?.spec.inputSchema ?? ownTools.get(name)?.definition.inputSchema,
    shards: () => shards.map((s) => s.status()),
    metrics,
    approval: config.approval,
    ...(approvals ? { approvals } : {}),
    nextToolsChange: () => new Promise<void>((resolve) => waiters.push(resolve)),
    close: async () => {
      approvals?.close();
      consolePages.close();
      await stopWatching?.();
      subscriptions.close();
      await http.close();
      await Promise.all(shards.map((s) => s.close()));
    },
  };
}
