import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

export const SESSION_COOKIE = 'homelab_console';
export const CSRF_HEADER = 'x-csrf-token';

/** A person signed in to the console. */
export interface ConsoleSession {
  /** The credential's subject (the token's or the OAuth access token's). */
  subject: string;
  /** What they called themselves at sign-in, if anything. */
  name?: string;
  scopes: string[];
  csrf: string;
  expiresAt: number;
}

/** How the audit log names a console decision: the name given at sign-in, with the credential's subject. */
export function approverOf(session: ConsoleSession): string {
  return session.name ? `${session.name} (${session.subject})` : session.subject;
}

/** A cookie's value from the request's Cookie header. */
export function cookieOf(req: IncomingMessage, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** A Set-Cookie value for an httpOnly cookie the page's script never reads; Max-Age=0 clears it. */
export function httpOnlyCookie(name: string, value: string, o: { path: string; sameSite: 'Strict' | 'Lax'; maxAgeSeconds: number; secure: boolean }): string {
  return `${name}=${value}; Path=${o.path}; HttpOnly; SameSite=${o.sameSite}; Max-Age=${o.maxAgeSeconds}${o.secure ? '; Secure' : ''}`;
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * Console sign-ins, in memory: the cookie carries only a random id
 * (httpOnly, SameSite=Strict, path /console), and every change must echo the
 * session's CSRF token in a header a page elsewhere cannot set.
 */
export class ConsoleSessions {
  private readonly sessions = new Map<string, ConsoleSession>();

  constructor(
    private readonly lifetimeMs: number,
    private readonly secureCookie: boolean,
  ) {}

  /** A new session; returns it with the Set-Cookie header that holds its id. */
  open(subject: string, scopes: string[], name: string | undefined): { session: ConsoleSession; cookie: string } {
    this.dropExpired();
    const id = randomBytes(32).toString('base64url');
    const session: ConsoleSession = { subject, scopes, ...(name ? { name } : {}), csrf: randomBytes(32).toString('base64url'), expiresAt: Date.now() + this.lifetimeMs };
    this.sessions.set(id, session);
    return { session, cookie: this.cookie(id, Math.floor(this.lifetimeMs / 1000)) };
  }

  /** The request's session, if its cookie names a live one. */
  of(req: IncomingMessage): ConsoleSession | undefined {
    const id = cookieOf(req, SESSION_COOKIE);
    const session = id ? this.sessions.get(id) : undefined;
    if (!session) return undefined;
    if (Date.now() > session.expiresAt) {
      this.sessions.delete(id!);
      return undefined;
    }
    return session;
  }

  /** Whether the request carries the session's CSRF token. */
  csrfMatches(req: IncomingMessage, session: ConsoleSession): boolean {
    const sent = req.headers[CSRF_HEADER];
    return typeof sent === 'string' && sameSecret(sent, session.csrf);
  }

  /** Ends the request's session; returns the Set-Cookie header that clears it. */
  close(req: IncomingMessage): string {
    const id = cookieOf(req, SESSION_COOKIE);
    if (id) this.sessions.delete(id);
    return this.cookie('', 0);
  }

  private cookie(value: string, maxAgeSeconds: number): string {
    return httpOnlyCookie(SESSION_COOKIE, value, { path: '/console', sameSite: 'Strict', maxAgeSeconds, secure: this.secureCookie });
  }

  private dropExpired(): void {
    const now = Date.now();
    for (const [id, s] of this.sessions) if (now > s.expiresAt) this.sessions.delete(id);
  }
}
