import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { CallToolRequestSchema, ErrorCode, ListToolsRequestSchema, McpError, type Tool } from '@modelcontextprotocol/sdk/types.js';
import type { jsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/types.js';
import type { ShardConnection } from '../discovery/shard-connection.js';
import { callShardTool, invalidParams, type CallDeps } from './call-tool.js';
import { STATUS_TOOL_NAME, callStatusTool, statusTool } from './status-tool.js';
import { DIAGNOSE_TOOL_NAME, diagnoseService, diagnoseTool } from '../composite/diagnose.js';
import { InvalidArgumentsError, createArgumentsValidator } from '../schema/index.js';
import { ALL_SCOPES, mayUse, scopeFor } from '../trust/principal.js';

/** The gateway's own tools: validated by their schemas and guarded by their scopes like every shard tool. */
const OWN_TOOLS = new Map(
  [statusTool, diagnoseTool].map((tool) => [tool.name, { validate: createArgumentsValidator(tool.inputSchema), annotations: tool.annotations }] as const),
);

export const SERVER_INFO = { name: 'homelab-mcp-gateway', title: 'homelab-mcp', version: '0.1.0' };

const INSTRUCTIONS =
  'Tools for this homelab come from its shards (Traefik, Dozzle, Authentik, ...). The list changes as shards come and go: ' +
  'watch notifications/tools/list_changed. Tools that change something return a plan first; apply it by calling the same ' +
  'tool with the same arguments and plan_id. homelab_status explains a missing or failing tool.';

/** What every MCP server instance shares: the gateway-wide state, never per session. */
export interface McpCore extends CallDeps {
  shards: readonly ShardConnection[];
  /** The current tools/list answer, rebuilt only when the table changes. */
  listTools(): Tool[];
  /** One validator for every server instance (compiling schemas is the expensive part). */
  validator: jsonSchemaValidator;
  /** Ask the user to confirm plans when the client supports elicitation (not with JSON-only responses, which cannot carry the question). */
  elicitation: boolean;
}

/**
 * A low-level SDK `Server` wired to the gateway: one per session, or one per
 * request in stateless mode. It holds no state of its own; handlers read the
 * shared core, so creating one is cheap.
 */
export function createMcpServer(core: McpCore): Server {
  const server = new Server(SERVER_INFO, {
    capabilities: { tools: { listChanged: true }, logging: {} },
    instructions: INSTRUCTIONS,
    jsonSchemaValidator: core.validator,
  });
  // Callers see only the tools their scopes allow (static-token and no-auth callers have every scope).
  server.setRequestHandler(ListToolsRequestSchema, (_request, extra) => {
    const scopes = extra.authInfo?.scopes ?? [];
    const tools = core.listTools();
    return { tools: ALL_SCOPES.every((s) => scopes.includes(s)) ? tools : tools.filter((t) => mayUse(scopes, t.annotations)) };
  });
  server.setRequestHandler(CallToolRequestSchema, async (request, extra) => {
    const { name, arguments: args, _meta: meta } = request.params;
    const scopes = extra.authInfo?.scopes ?? [];
    const own = OWN_TOOLS.get(name);
    if (own && !mayUse(scopes, own.annotations)) {
      return { isError: true, content: [{ type: 'text', text: `Refused: ${name} needs the ${scopeFor(own.annotations)} scope; use a token that grants it.` }] };
    }
    if (own) {
      try {
        own.validate(args);
      } catch (err) {
        if (err instanceof InvalidArgumentsError) throw invalidParams(name, err);
        throw err;
      }
    }
    if (name === STATUS_TOOL_NAME) return callStatusTool(core.shards, core.listTools().length);
    if (name === DIAGNOSE_TOOL_NAME) {
      const a = (args ?? {}) as { service: string; path?: string };
      if (!a.service.trim()) throw new McpError(ErrorCode.InvalidParams, 'Invalid arguments for diagnose_service: service: must name a service or host, such as "gitea" or "gitea.home.lan"');
      return diagnoseService(core.shards, { service: a.service, ...(a.path !== undefined ? { path: a.path } : {}) }, extra.signal);
    }
    const progressToken = meta?.progressToken;
    const canAsk = server.getClientCapabilities()?.elicitation !== undefined && core.elicitation;
    return callShardTool(core, name, args, {
      ...(canAsk
        ? {
            confirm: async (message: string) => {
              const answer = await server.elicitInput(
                { message, requestedSchema: { type: 'object', properties: { apply: { type: 'boolean', title: 'Apply this change', default: false } }, required: ['apply'] } },
                { signal: extra.signal, relatedRequestId: extra.requestId },
              );
              if (answer.action === 'accept') return answer.content?.apply === true;
              return answer.action === 'decline' ? false : undefined;
            },
          }
        : {}),
      subject: extra.authInfo?.clientId ?? 'local',
      scopes,
      signal: extra.signal,
      meta,
      ...(progressToken !== undefined
        ? {
            sendProgress: (progress: number, message: string) =>
              extra.sendNotification({ method: 'notifications/progress', params: { progressToken, progress, message } }),
          }
        : {}),
    });
  });
  return server;
}
