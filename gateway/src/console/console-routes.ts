import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { GatewayConfig } from '../config.js';
import type { ShardConnection } from '../discovery/shard-connection.js';
import { ApprovalError, type ApprovalRecord, type Approvals } from '../approval/approvals.js';
import type { Authenticate } from '../http/authentication.js';
import { renderStatus } from '../mcp/status-tool.js';
import { TokenRejectedError } from '../trust/oauth.js';
import { SCOPE_READ, SCOPE_WRITE } from '../trust/principal.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { queryAudit } from './audit-query.js';
import type { DiagnosisLog } from './diagnoses.js';
import { ConsoleSessions, approverOf, type ConsoleSession } from './console-sessions.js';
import { OAuthSignIn, SignInFailedError } from './oauth-sign-in.js';
import type { Principal } from '../trust/principal.js';
import { loadConsoleFiles, type StaticFile } from './static-files.js';

/** Scripts, styles, images and requests only from the gateway itself; no inline code, no frames. */
export const CONSOLE_CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy': CONSOLE_CSP,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
};

const BODY_LIMIT = 16 * 1024;
const HEARTBEAT_MS = 15_000;

export interface ConsoleDeps {
  config: GatewayConfig;
  logger: Logger;
  /** The MCP endpoint's own check of a credential: the console accepts what /mcp accepts. */
  authenticate: Authenticate;
  shards: readonly ShardConnection[];
  /** Present under GATEWAY_APPROVAL=human. */
  approvals?: Approvals;
  auditFile: string;
  /** The gateway's address as browsers reach it (GATEWAY_PUBLIC_URL or where it listens). */
  baseUrl(): string;
  listedTools(): number;
  /** The latest diagnose_service results. */
  diagnoses: DiagnosisLog;
  /** Calls a tool through the ordinary pipeline as the signed-in person (the console's reads and diagnoses). */
  runTool(name: string, args: Record<string, unknown>, caller: { subject: string; scopes: string[] }, signal: AbortSignal): Promise<CallToolResult>;
}

/** The tools the console calls itself; all of them only read. */
const STATS_TOOL = 'get_container_stats';
const DIAGNOSE_TOOL = 'diagnose_service';

export type ServeConsole = (req: IncomingMessage, res: ServerResponse, path: string) => Promise<void>;

class HttpProblem extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'HttpProblem';
  }
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent) return void res.end();
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...headers });
  res.end(JSON.stringify(body));
}

async function readBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  if (!/^application\/json\b/i.test(req.headers['content-type'] ?? '')) throw new HttpProblem(415, 'send the body as application/json');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > BODY_LIMIT) throw new HttpProblem(413, `the body is larger than ${BODY_LIMIT} bytes`);
    chunks.push(chunk);
  }
  if (size === 0) return {};
  try {
    const value: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    if (value && typeof value === 'object' && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    // answered below
  }
  throw new HttpProblem(400, 'the body is not a JSON object');
}

/** A plan as the console shows it: the exact change, who asked, and where it stands. */
function planView(r: ApprovalRecord): Record<string, unknown> {
  return {
    id: r.id,
    tool: r.tool,
    subject: r.subject,
    arguments: r.shownArguments,
    summary: r.summary,
    diff: r.diff,
    text: r.text,
    createdAt: new Date(r.createdAt).toISOString(),
    expiresAt: new Date(r.expiresAt).toISOString(),
    status: r.status,
    ...(r.decision ? { decision: { by: r.decision.by, via: r.decision.via, at: new Date(r.decision.at).toISOString(), ...(r.decision.reason ? { reason: r.decision.reason } : {}) } } : {}),
    ...(r.outcome ? { outcome: r.outcome } : {}),
  };
}

/**
 * The console at /console: its static files, sign-in (a credential /mcp
 * accepts, exchanged for a session cookie), the live state (JSON and an SSE
 * stream), plan decisions and the audit log. It runs behind the same
 * Host/Origin guard as /mcp; every change needs the session's CSRF token.
 */
export function createConsole(deps: ConsoleDeps): { serve: ServeConsole; shardsChanged(added?: ShardConnection): void; close(): void } {
  const files = loadConsoleFiles();
  const secure = deps.config.publicUrl?.startsWith('https:') ?? false;
  const sessions = new ConsoleSessions(deps.config.consoleSessionMs, secure);
  const { oauth: oauthSettings } = deps.config.auth;
  const oauth =
    deps.config.auth.mode === 'oauth' && oauthSettings && deps.config.consoleOAuthClientId
      ? new OAuthSignIn(oauthSettings, deps.config.consoleOAuthClientId, () => `${deps.baseUrl()}/console/oauth/callback`, secure)
      : undefined;
  const streams = new Set<ServerResponse>();

  const state = () => ({
    approval: deps.config.approval,
    listedTools: deps.listedTools(),
    shards: deps.shards.map((s) => renderStatus(s.status())),
    plans: (deps.approvals?.list() ?? []).map(planView),
    diagnoses: deps.diagnoses.list(),
  });

  /** A tool's answer, or the reason it has none (an unknown tool: its shard is not serving). */
  const callRead = async (name: string, args: Record<string, unknown>, session: ConsoleSession, req: IncomingMessage): Promise<CallToolResult> => {
    const abort = new AbortController();
    req.on('close', () => abort.abort());
    try {
      return await deps.runTool(name, args, { subject: approverOf(session), scopes: session.scopes }, abort.signal);
    } catch (err) {
      throw new HttpProblem(503, `${name} cannot be called now: ${err instanceof Error ? err.message : String(err)}`);
    }
  };
  const textOf = (r: CallToolResult) => r.content.map((c) => (c.type === 'text' ? c.text : '')).join('\n');

  const stats = async (req: IncomingMessage, res: ServerResponse, session: ConsoleSession) => {
    const result = await callRead(STATS_TOOL, {}, session, req);
    if (result.isError) throw new HttpProblem(502, textOf(result));
    const rows = ((result.structuredContent as { stats?: Record<string, unknown>[] } | undefined)?.stats ?? []).map((s) => ({
      name: String((s.container as { name?: string } | undefined)?.name ?? ''),
      state: String((s.container as { state?: string } | undefined)?.state ?? ''),
      cpu: Number(s.cpu_percent ?? 0),
      memory: Number(s.memory_percent ?? 0),
      memoryBytes: Number(s.memory_usage_bytes ?? 0),
    }));
    send(res, 200, { at: new Date().toISOString(), containers: rows });
  };

  const diagnose = async (req: IncomingMessage, res: ServerResponse, session: ConsoleSession) => {
    const body = await readBody(req);
    const service = typeof body.service === 'string' ? body.service.trim() : '';
    if (!service) throw new HttpProblem(400, 'name the service to diagnose, e.g. "gitea" or "gitea.home.lan"');
    await callRead(DIAGNOSE_TOOL, { service }, session, req);
    send(res, 200, deps.diagnoses.list()[0] ?? {});
  };

  // One snapshot per burst of changes, to every open stream.
  let pending: NodeJS.Timeout | undefined;
  const broadcast = () => {
    if (pending || streams.size === 0) return;
    pending = setTimeout(() => {
      pending = undefined;
      const frame = `event: state\ndata: ${JSON.stringify(state())}\n\n`;
      for (const res of streams) res.write(frame);
    }, 50);
  };
  for (const shard of deps.shards) shard.on('change', broadcast);
  deps.approvals?.on('changed', broadcast);
  deps.diagnoses.on('changed', broadcast);
  const heartbeat = setInterval(() => {
    for (const res of streams) res.write(': keep-alive\n\n');
  }, HEARTBEAT_MS);
  heartbeat.unref();

  const serveFile = (res: ServerResponse, file: StaticFile) => {
    res.writeHead(200, { 'content-type': file.type, 'cache-control': 'no-cache' });
    res.end(file.body);
  };

  /** Checks a credential as /mcp does; the principal, or why not. */
  const check = async (token: string): Promise<Principal> => {
    let principal: Principal;
    try {
      principal = await deps.authenticate(deps.config.auth.mode === 'none' ? undefined : `Bearer ${token}`);
    } catch (err) {
      if (err instanceof TokenRejectedError) throw new HttpProblem(err.status, `Sign-in refused: ${err.message}`);
      throw err;
    }
    if (!principal.scopes.includes(SCOPE_READ)) throw new HttpProblem(403, `Sign-in refused: the token grants no ${SCOPE_READ}`);
    return principal;
  };
  const sessionView = (session: ConsoleSession) => ({ subject: session.subject, name: session.name ?? null, approver: approverOf(session), csrf: session.csrf, canDecide: session.scopes.includes(SCOPE_WRITE) });
  const open = (principal: Principal, name: string | undefined, how: string) => {
    const opened = sessions.open(principal.subject, principal.scopes, name || undefined);
    deps.logger.info({ subject: opened.session.subject, name: opened.session.name, how }, 'console sign-in');
    return opened;
  };

  const signIn = async (req: IncomingMessage, res: ServerResponse) => {
    const body = await readBody(req);
    const token = typeof body.token === 'string' ? body.token.trim() : '';
    const name = typeof body.name === 'string' ? body.name.trim().slice(0, 64) : '';
    const { session, cookie } = open(await check(token), name, 'token');
    send(res, 200, sessionView(session), { 'set-cookie': cookie });
  };

  /** Back from Authentik: the code becomes an access token, checked as any bearer token, then a console session. */
  const oauthCallback = async (req: IncomingMessage, res: ServerResponse, url: URL) => {
    let token: string;
    try {
      token = await oauth!.finish(req, url);
    } catch (err) {
      if (err instanceof SignInFailedError) throw new HttpProblem(400, err.message);
      if (err instanceof TokenRejectedError) throw new HttpProblem(err.status, err.message);
      throw err;
    }
    const { cookie } = open(await check(token), undefined, 'oauth');
    // A page of our own continues to the console: a redirect chain that began at Authentik would not carry the SameSite=Strict cookie.
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', 'set-cookie': [cookie, oauth!.clearCookie()] });
    res.end('<!doctype html><meta charset="utf-8"><meta http-equiv="refresh" content="0;url=/console/"><title>Signed in</title><p>Signed in. <a href="/console/">Continue to the console</a>.</p>');
  };

  const decide = async (req: IncomingMessage, res: ServerResponse, session: ConsoleSession, id: string, verb: 'approve' | 'reject') => {
    if (!session.scopes.includes(SCOPE_WRITE)) throw new HttpProblem(403, `deciding on plans needs ${SCOPE_WRITE}`);
    if (!deps.approvals) throw new HttpProblem(409, 'this gateway runs with GATEWAY_APPROVAL=model: clients apply their own plans, nothing waits here');
    const body = await readBody(req);
    try {
      const record =
        verb === 'approve'
          ? await deps.approvals.approve(id, approverOf(session), 'console')
          : deps.approvals.reject(id, approverOf(session), 'console', typeof body.reason === 'string' ? body.reason.slice(0, 500) : '');
      send(res, 200, planView(record));
    } catch (err) {
      if (err instanceof ApprovalError) throw new HttpProblem(err.status, err.message);
      throw err;
    }
  };

  const events = (req: IncomingMessage, res: ServerResponse) => {
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive' });
    res.write(`event: state\ndata: ${JSON.stringify(state())}\n\n`);
    streams.add(res);
    req.on('close', () => streams.delete(res));
  };

  const api = async (req: IncomingMessage, res: ServerResponse, route: string, url: URL) => {
    const method = req.method ?? 'GET';
    if (route === 'session' && method === 'POST') return signIn(req, res);
    if (route === 'options' && method === 'GET') return send(res, 200, { token: deps.config.auth.mode !== 'oauth', oauth: oauth !== undefined, none: deps.config.auth.mode === 'none' });
    const session = sessions.of(req);
    if (!session) throw new HttpProblem(401, 'sign in first');
    const changes = method !== 'GET' && method !== 'HEAD';
    if (changes && !sessions.csrfMatches(req, session)) throw new HttpProblem(403, 'Forbidden: missing or wrong CSRF token (send the X-CSRF-Token header the sign-in returned)');
    if (route === 'session' && method === 'GET') return send(res, 200, sessionView(session));
    if (route === 'session' && method === 'DELETE') return send(res, 200, { signedOut: true }, { 'set-cookie': sessions.close(req) });
    if (route === 'state' && method === 'GET') return send(res, 200, state());
    if (route === 'events' && method === 'GET') return events(req, res);
    if (route === 'audit' && method === 'GET') {
      const q = url.searchParams;
      const limit = Math.min(Math.max(Number(q.get('limit')) || 100, 1), 500);
      return send(res, 200, { entries: queryAudit(deps.auditFile, { text: q.get('q') || undefined, result: q.get('result') || undefined, tool: q.get('tool') || undefined, limit }) });
    }
    if (route === 'stats' && method === 'GET') return stats(req, res, session);
    if (route === 'diagnose' && method === 'POST') return diagnose(req, res, session);
    const decision = /^plans\/([^/]+)\/(approve|reject)$/.exec(route);
    if (decision && method === 'POST') return decide(req, res, session, decodeURIComponent(decision[1]!), decision[2] as 'approve' | 'reject');
    throw new HttpProblem(404, `no console API ${method} /console/api/${route}`);
  };

  const serve: ServeConsole = async (req, res, path) => {
    for (const [k, v] of Object.entries(SECURITY_HEADERS)) res.setHeader(k, v);
    const url = new URL(req.url ?? '/', 'http://console.invalid');
    try {
      if (path === '/console') {
        res.writeHead(308, { location: '/console/' });
        return void res.end();
      }
      if (path.startsWith('/console/api/')) return await api(req, res, path.slice('/console/api/'.length), url);
      if (oauth && path === '/console/oauth/start' && req.method === 'GET') {
        const { location, cookie } = await oauth.start();
        res.writeHead(302, { location, 'set-cookie': cookie, 'cache-control': 'no-store' });
        return void res.end();
      }
      if (oauth && path === '/console/oauth/callback' && req.method === 'GET') return await oauthCallback(req, res, url);
      if (req.method !== 'GET' && req.method !== 'HEAD') throw new HttpProblem(405, 'the console pages are read with GET');
      const file = files.get(path === '/console/' ? 'index.html' : path.slice('/console/'.length));
      if (!file) throw new HttpProblem(404, `no console file ${path}`);
      serveFile(res, file);
    } catch (err) {
      if (err instanceof TokenRejectedError) return send(res, err.status, { error: err.message });
      if (!(err instanceof HttpProblem)) throw err;
      send(res, err.status, { error: err.message });
    }
  };

  return {
    serve,
    /** A node's instance joined (followed from now on) or left the shard list: open consoles get the new list. */
    shardsChanged(added) {
      added?.on('change', broadcast);
      broadcast();
    },
    close() {
      clearInterval(heartbeat);
      clearTimeout(pending);
      for (const res of streams) res.end();
      streams.clear();
    },
  };
}
