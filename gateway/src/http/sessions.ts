import { randomUUID } from 'node:crypto';
import type { Server } from '@modelcontextprotocol/sdk/server/index.js';
import type { Logger } from 'pino';
import type { GatewayConfig } from '../config.js';
import type { GatewayMetrics } from '../mcp/metrics.js';
import { NodeStreamableHttpTransport } from './node-transport.js';
import { dispatchPlainMessages } from './jsonrpc-shape.js';

export interface Session {
  id: string;
  /** Who initialized it: only the same subject may use it. */
  subject: string;
  server: Server;
  transport: NodeStreamableHttpTransport;
  /** The protocol version negotiated at initialize: it decides whether JSON-RPC batches exist. */
  protocolVersion: string;
  lastSeen: number;
  inflight: number;
}

export interface SessionRefusal {
  status: number;
  message: string;
  retryAfterSeconds: number;
}

/**
 * The live sessions, each owned by the subject that opened it. Sessions are
 * capped per subject and in all; idle ones (no request in flight for the idle
 * time) are closed.
 */
export class SessionRegistry {
  private readonly sessions = new Map<string, Session>();
  /** Sessions being initialized right now, per subject: they count against the caps before they are registered. */
  private readonly opening = new Map<string, number>();
  private openingTotal = 0;
  private readonly sweeper: NodeJS.Timeout;

  constructor(
    private readonly settings: GatewayConfig['sessions'],
    private readonly metrics: GatewayMetrics,
    private readonly logger: Logger,
  ) {
    this.sweeper = setInterval(() => this.evictIdle(), Math.max(1000, Math.min(settings.idleMs / 4, 60_000)));
    this.sweeper.unref();
  }

  get(id: string): Session | undefined {
    return this.sessions.get(id);
  }

  get size(): number {
    return this.sessions.size;
  }

  servers(): Server[] {
    return [...this.sessions.values()].map((s) => s.server);
  }

  /**
   * Room for one more session of this subject, or why not. A subject at its
   * own cap is refused; at the global cap it may give up its own least
   * recently used idle session, never another subject's.
   */
  admit(subject: string): SessionRefusal | undefined {
    const own = [...this.sessions.values()].filter((s) => s.subject === subject);
    const ownCount = own.length + (this.opening.get(subject) ?? 0);
    const { max, maxPerSubject } = this.settings;
    if (maxPerSubject > 0 && ownCount >= maxPerSubject) {
      return {
        status: 429,
        message: `Too Many Requests: this caller already holds ${ownCount} sessions, its maximum (GATEWAY_MAX_SESSIONS_PER_SUBJECT=${maxPerSubject}); end the sessions it no longer uses (DELETE with their Mcp-Session-Id) or wait until one idles out`,
        retryAfterSeconds: own.length ? this.untilIdle(own) : 1,
      };
    }
    if (this.sessions.size + this.openingTotal < max) return undefined;
    let oldest: Session | undefined;
    for (const s of own) if (s.inflight === 0 && (!oldest || s.lastSeen < oldest.lastSeen)) oldest = s;
    if (oldest) {
      this.logger.info({ session: oldest.id, subject }, "session cap reached: closing this caller's least recently used session");
      void this.closeSession(oldest);
      return undefined;
    }
    return {
      status: 503,
      message: `Service Unavailable: the gateway holds its maximum of ${max} sessions (GATEWAY_MAX_SESSIONS) and none of them is this caller's to close; retry later`,
      retryAfterSeconds: this.sessions.size ? this.untilIdle([...this.sessions.values()]) : 1,
    };
  }

  /**
   * Opens a session for an initialize request and lets `handle` answer it on
   * the new transport. The SDK names the session; it is registered then, and
   * counts against the caps from the start.
   */
  async open(subject: string, protocolVersion: string, server: Server, onAnswered: (listener: () => void) => void, handle: (transport: NodeStreamableHttpTransport) => Promise<void>): Promise<void> {
    const created: Session = { id: '', subject, server, transport: undefined as unknown as NodeStreamableHttpTransport, protocolVersion, lastSeen: Date.now(), inflight: 1 };
    const transport = new NodeStreamableHttpTransport({
      sessionIdGenerator: () => randomUUID(),
      enableJsonResponse: this.settings.jsonResponse,
      onsessioninitialized: (id) => {
        created.id = id;
        this.sessions.set(id, created);
        this.metrics.sessions.set(this.sessions.size);
      },
      onsessionclosed: (id) => {
        const s = this.sessions.get(id);
        if (s) void this.closeSession(s);
      },
    });
    created.transport = transport;
    transport.onclose = () => {
      if (created.id && this.sessions.get(created.id) === created) this.forget(created);
    };
    onAnswered(() => {
      created.inflight--;
      created.lastSeen = Date.now();
    });
    this.opening.set(subject, (this.opening.get(subject) ?? 0) + 1);
    this.openingTotal++;
    try {
      await server.connect(transport);
      dispatchPlainMessages(server, transport);
      await handle(transport);
    } finally {
      const left = (this.opening.get(subject) ?? 1) - 1;
      if (left > 0) this.opening.set(subject, left);
      else this.opening.delete(subject);
      this.openingTotal--;
    }
  }

  async closeAll(): Promise<void> {
    clearInterval(this.sweeper);
    await Promise.all([...this.sessions.values()].map((s) => this.closeSession(s)));
  }

  private forget(s: Session): void {
    this.sessions.delete(s.id);
    this.metrics.sessions.set(this.sessions.size);
  }

  private async closeSession(s: Session): Promise<void> {
    this.forget(s);
    await s.transport.close().catch(() => undefined);
    await s.server.close().catch(() => undefined);
  }

  /** Seconds until the first of these sessions can be closed for idling. */
  private untilIdle(list: readonly Session[]): number {
    const first = Math.min(...list.map((s) => s.lastSeen));
    return Math.max(1, Math.ceil((first + this.settings.idleMs - Date.now()) / 1000));
  }

  private evictIdle(): void {
    const cutoff = Date.now() - this.settings.idleMs;
    for (const s of this.sessions.values()) {
      if (s.inflight === 0 && s.lastSeen < cutoff) {
        this.logger.info({ session: s.id }, 'closing idle session');
        void this.closeSession(s);
      }
    }
  }
}
