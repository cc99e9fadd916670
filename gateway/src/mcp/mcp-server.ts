import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { Protocol, type RequestHandlerExtra } from '@modelcontextprotocol/sdk/shared/protocol.js';
import {
  CompleteRequestSchema,
  GetPromptRequestSchema,
  ListPromptsRequestSchema,
  ListResourceTemplatesRequestSchema,
  ListResourcesRequestSchema,
  ListToolsRequestSchema,
  ReadResourceRequestSchema,
  SubscribeRequestSchema,
  UnsubscribeRequestSchema,
  type CallToolRequest,
  type CallToolResult,
  type ServerNotification,
  type ServerRequest,
  type Tool,
} from '@modelcontextprotocol/sdk/types.js';
import type { jsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/types.js';
import { z } from 'zod';
import { callTool } from '../call/pipeline.js';
import type { CallContext, CallDeps } from '../call/tool-call.js';
import { ALL_SCOPES, mayUse } from '../trust/principal.js';
import { toolCallRequest } from './tool-call-params.js';
import { sessionLogOf } from './session-log.js';
import { toContentBlock } from '../surface/content.js';
import type { Subscriptions } from '../surface/subscriptions.js';
import type { SurfaceTable } from '../surface/surface-table.js';

export const SERVER_INFO = { name: 'homelab-mcp-gateway', title: 'homelab-mcp', version: '0.1.0' };

const INSTRUCTIONS =
  'Tools for this homelab come from its shards (Traefik, Dozzle, Authentik, ...). The list changes as shards come and go: ' +
  'watch notifications/tools/list_changed. Tools that change something return a plan first; apply it by calling the same ' +
  'tool with the same arguments and plan_id. homelab_status explains a missing or failing tool.';

/** Under GATEWAY_APPROVAL=human the model cannot apply its plans: it says so up front. */
const INSTRUCTIONS_HUMAN =
  INSTRUCTIONS.replace(/Tools that change something return a plan first;.*plan_id\. /, '') +
  ' Tools that change something return a plan first; a person must approve it (in this client when it asks, or in the gateway console) and the gateway then applies it: call await_approval with the plan id to wait for the decision.';

/** What every MCP server instance shares: the gateway-wide state, never per session. */
export interface McpCore extends CallDeps {
  /** The current tools/list answer, rebuilt only when the table changes. */
  listTools(): Tool[];
  /** One validator for every server instance (compiling schemas is the expensive part). */
  validator: jsonSchemaValidator;
  /** Ask the user to confirm plans when the client supports elicitation (not with JSON-only responses, which cannot carry the question). */
  elicitation: boolean;
  /** Resources, templates and prompts the shards declare. */
  surface: SurfaceTable;
  subscriptions: Subscriptions;
}

type Extra = RequestHandlerExtra<ServerRequest, ServerNotification>;

type Json = Record<string, unknown>;

/** A ClientAnswer content (proto3 JSON) from what the client's model answered. */
function toProtoContent(block: { type: string; text?: string; data?: string; mimeType?: string }): Json {
  if (block.type === 'text') return { text: block.text ?? '' };
  if (block.type === 'image' || block.type === 'audio') return { [block.type]: { data: block.data ?? '', mime_type: block.mimeType ?? '' } };
  return { text: JSON.stringify(block) };
}

/**
 * A shard's question put to the client, tied to the tool call: elicitation
 * for the user, sampling for the model. Without the capability (or with
 * JSON-only responses, which cannot carry a request) the answer is
 * `unsupported`, saying why, so the shard can answer the call clearly.
 */
async function askClient(server: Server, core: McpCore, extra: Extra, question: Json): Promise<Json> {
  const id = String(question.id ?? '');
  const caps = server.getClientCapabilities();
  const options = { signal: extra.signal, relatedRequestId: extra.requestId };
  const unsupported = (what: 'elicitation' | 'sampling') => ({
    id,
    unsupported: core.elicitation ? `the client does not support ${what} (it did not declare the capability)` : `the gateway answers with JSON only (GATEWAY_JSON_RESPONSE), which cannot carry ${what === 'elicitation' ? 'an' : 'a'} ${what} request`,
  });
  const elicitation = question.elicitation as { message?: string; requested_schema?: Json } | undefined;
  if (elicitation) {
    if (!core.elicitation || !caps?.elicitation) return unsupported('elicitation');
    const answer = await server.elicitInput({ message: elicitation.message ?? '', requestedSchema: (elicitation.requested_schema ?? { type: 'object', properties: {} }) as never }, options);
    return { id, elicitation: { action: `ELICITATION_ACTION_${answer.action.toUpperCase()}`, ...(answer.content ? { content: answer.content } : {}) } };
  }
  const sampling = question.sampling as { messages?: Json[]; max_tokens?: number; system_prompt?: string } | undefined;
  if (sampling) {
    if (!core.elicitation || !caps?.sampling) return unsupported('sampling');
    const messages = (sampling.messages ?? []).flatMap((m) => {
      const content = toContentBlock((m.content as Json | undefined) ?? {});
      return content && (content.type === 'text' || content.type === 'image' || content.type === 'audio') ? [{ role: m.role === 'ROLE_ASSISTANT' ? ('assistant' as const) : ('user' as const), content }] : [];
    });
    const answer = await server.createMessage({ messages, maxTokens: sampling.max_tokens || 1000, ...(sampling.system_prompt ? { systemPrompt: sampling.system_prompt } : {}) }, options);
    const block = Array.isArray(answer.content) ? answer.content[0] : answer.content;
    return { id, sampling: { content: block ? toProtoContent(block as never) : {}, model: answer.model, stop_reason: answer.stopReason ?? '' } };
  }
  return { id, unsupported: 'the shard asked a question of a kind this gateway does not know' };
}

/** What the client offers this call: who it is, cancellation, progress, and a way to ask its user. */
function callContext(server: Server, core: McpCore, request: CallToolRequest, extra: Extra): CallContext {
  const meta = request.params._meta;
  const progressToken = meta?.progressToken;
  const canAsk = core.elicitation && server.getClientCapabilities()?.elicitation !== undefined;
  return {
    subject: extra.authInfo?.clientId ?? 'local',
    scopes: extra.authInfo?.scopes ?? [],
    signal: extra.signal,
    ...(meta ? { meta } : {}),
    ...(progressToken !== undefined
      ? { sendProgress: (progress: number, message: string, total?: number) => extra.sendNotification({ method: 'notifications/progress', params: { progressToken, progress, ...(total !== undefined ? { total } : {}), ...(message ? { message } : {}) } }) }
      : {}),
    ask: (question) => askClient(server, core, extra, question),
    sendLog: (level, data, logger) => sessionLogOf(server).send({ level, logger, data }, extra.requestId),
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
  };
}

/**
 * A low-level SDK `Server` wired to the gateway: one per session, or one per
 * request in stateless mode. It holds no state of its own; handlers read the
 * shared core, so creating one is cheap.
 */
export function createMcpServer(core: McpCore): Server {
  const server = new Server(SERVER_INFO, {
    capabilities: { tools: { listChanged: true }, logging: {}, resources: { subscribe: true, listChanged: true }, prompts: { listChanged: true }, completions: {} },
    instructions: core.approvals ? INSTRUCTIONS_HUMAN : INSTRUCTIONS,
    jsonSchemaValidator: core.validator,
  });
  // Callers see only the tools their scopes allow (static-token and no-auth callers have every scope).
  server.setRequestHandler(ListToolsRequestSchema, (_request, extra) => {
    const scopes = extra.authInfo?.scopes ?? [];
    const tools = core.listTools();
    return { tools: ALL_SCOPES.every((s) => scopes.includes(s)) ? tools : tools.filter((t) => mayUse(scopes, t.annotations)) };
  });
  sessionLogOf(server);
  addSurfaceHandlers(server, core);
  answerToolCalls(server, (request, extra) => callTool(core, request.params.name, request.params.arguments, callContext(server, core, request, extra)));
  return server;
}

const ToolsCallMethod = z.looseObject({ method: z.literal('tools/call') });

/**
 * tools/call, registered on the protocol rather than through the Server's
 * wrapper: the wrapper checks the request against the SDK's schema twice and
 * every result the gateway builds once more, on every call. The request's
 * params get the same checks here, once; the results are the gateway's own,
 * built to the result type.
 */
function answerToolCalls(server: Server, answer: (request: CallToolRequest, extra: Extra) => Promise<CallToolResult>): void {
  server.assertCanSetRequestHandler('tools/call');
  Protocol.prototype.setRequestHandler.call(server, ToolsCallMethod, (request: z.infer<typeof ToolsCallMethod>, extra: Extra) => answer(toolCallRequest(request), extra));
}

const callerOf = (extra: Extra) => ({ subject: extra.authInfo?.clientId ?? 'local', signal: extra.signal });

/** Resources, templates, prompts and completions, as the shards' contracts declare them (src/surface). */
function addSurfaceHandlers(server: Server, core: McpCore): void {
  const { surface, subscriptions } = core;
  server.setRequestHandler(ListResourcesRequestSchema, async (_request, extra) => ({ resources: await surface.listResources(callerOf(extra)) }));
  server.setRequestHandler(ListResourceTemplatesRequestSchema, () => ({ resourceTemplates: surface.listTemplates() }));
  server.setRequestHandler(ReadResourceRequestSchema, (request, extra) => surface.read(request.params.uri, callerOf(extra)));
  server.setRequestHandler(SubscribeRequestSchema, (request) => {
    subscriptions.subscribe(request.params.uri, server);
    return {};
  });
  server.setRequestHandler(UnsubscribeRequestSchema, (request) => {
    subscriptions.unsubscribe(request.params.uri, server);
    return {};
  });
  server.setRequestHandler(ListPromptsRequestSchema, () => ({ prompts: surface.listPrompts() }));
  server.setRequestHandler(GetPromptRequestSchema, (request, extra) => surface.getPrompt(request.params.name, request.params.arguments ?? {}, callerOf(extra)));
  server.setRequestHandler(CompleteRequestSchema, (request, extra) =>
    surface.complete(request.params.ref, request.params.argument, request.params.context?.arguments ?? {}, callerOf(extra)),
  );
  const closed = server.onclose;
  server.onclose = () => {
    closed?.();
    subscriptions.drop(server);
  };
}
