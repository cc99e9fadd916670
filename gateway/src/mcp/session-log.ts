import type { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { LoggingLevelSchema, SetLevelRequestSchema, type LoggingLevel, type LoggingMessageNotification } from '@modelcontextprotocol/sdk/types.js';

const SEVERITY = new Map<LoggingLevel, number>(LoggingLevelSchema.options.map((level, i) => [level, i]));

/**
 * The level a session asked for with logging/setLevel, and the gate every
 * log message of that session passes: the broadcast ones (a shard came or
 * went) and the ones a call sends on its own response stream. The gateway
 * keeps it itself because one server serves one session, and the SDK's own
 * filter only applies to messages sent without a request to relate them to.
 */
export class SessionLog {
  private level: LoggingLevel | undefined;

  constructor(private readonly server: Server) {
    server.setRequestHandler(SetLevelRequestSchema, (request) => {
      this.level = request.params.level;
      return {};
    });
  }

  /** Whether a message of this level goes out (everything does until the client sets a level). */
  allows(level: LoggingLevel): boolean {
    return this.level === undefined || SEVERITY.get(level)! >= SEVERITY.get(this.level)!;
  }

  /** A log line to the session, unless its level is below the one asked for. */
  async send(params: LoggingMessageNotification['params'], relatedRequestId?: string | number): Promise<void> {
    if (!this.allows(params.level)) return;
    await this.server.notification({ method: 'notifications/message', params }, relatedRequestId !== undefined ? { relatedRequestId } : undefined);
  }
}

const logs = new WeakMap<Server, SessionLog>();

/** The session log of a server made by createMcpServer, created on first use. */
export function sessionLogOf(server: Server): SessionLog {
  let log = logs.get(server);
  if (!log) logs.set(server, (log = new SessionLog(server)));
  return log;
}
