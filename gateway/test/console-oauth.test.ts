import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { pino } from 'pino';
import { startAuthentikSim, type AuthentikSim } from '@homelab-mcp/homelab-sim/authentik/index.js';
import { parseGatewayConfig, startGateway, type Gateway } from '../src/index.js';
import { startKitchenSink, type KitchenSinkControl } from '@homelab-mcp/shard-kit/testing/kitchen-sink.js';
import { createTestPki, waitServing } from './support/test-pki.js';

const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
const SLUG = 'homelab-mcp';
const CLIENT_ID = 'homelab-mcp-gateway';

const cookiesOf = (res: Response) => res.headers.getSetCookie().map((c) => c.split(';')[0]!);

// The console's sign-in through Authentik (GATEWAY_AUTH=oauth): the
// authorization code flow with PKCE, followed redirect by redirect as a
// browser would, against the Authentik stand-in's authorize and token endpoints.
describe('console sign-in with Authentik (authorization code with PKCE)', () => {
  let dir: string;
  let authentik: AuthentikSim;
  let kitchen: KitchenSinkControl;
  let gateway: Gateway;
  let base: string;

  /** /console/oauth/start -> Authentik -> back to the callback; the responses on the way. */
  const flow = async () => {
    const start = await fetch(`${base}/console/oauth/start`, { redirect: 'manual' });
    const stateCookie = cookiesOf(start)[0]!;
    const atAuthentik = await fetch(start.headers.get('location')!, { redirect: 'manual' });
    return { start, stateCookie, atAuthentik, callback: atAuthentik.headers.get('location') ?? '' };
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gw-console-oauth-'));
    const pki = await createTestPki(join(dir, 'pki'), ['gateway', 'shard-kitchen']);
    authentik = await startAuthentikSim();
    kitchen = await startKitchenSink({ name: 'kitchen', listen: { host: '127.0.0.1', port: 0, tls: pki.shardTls('shard-kitchen') }, logger });
    gateway = await startGateway(
      parseGatewayConfig({ ...pki.gatewayEnv(join(dir, 'data')), SHARD_KITCHEN_URL: `127.0.0.1:${kitchen.port}`, GATEWAY_AUTH: 'oauth', GATEWAY_SHARD_KEEPALIVE_TIMEOUT_MS: '5000', GATEWAY_OAUTH_ISSUER: authentik.oauthIssuer(SLUG), GATEWAY_OAUTH_AUDIENCE: CLIENT_ID }),
      logger,
    );
    await waitServing(gateway);
    base = gateway.url.replace(/\/mcp$/, '');
    authentik.signInOAuthUser({ slug: SLUG, clientId: CLIENT_ID, redirectUris: [`${base}/console/oauth/callback`], subject: 'alice', scopes: ['openid', 'homelab:read', 'homelab:write'] });
  });

  afterAll(async () => {
    await gateway?.close();
    await kitchen?.close();
    await authentik?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('offers Authentik on the sign-in page and sends the browser there with an S256 challenge and a state bound to it', async () => {
    expect(await (await fetch(`${base}/console/api/options`)).json()).toEqual({ token: false, oauth: true, none: false });
    const { start, stateCookie } = await flow();
    expect(start.status).toBe(302);
    const to = new URL(start.headers.get('location')!);
    expect(`${to.origin}${to.pathname}`).toBe(`${authentik.origin}/application/o/authorize/`);
    expect(Object.fromEntries(to.searchParams)).toMatchObject({ response_type: 'code', client_id: CLIENT_ID, redirect_uri: `${base}/console/oauth/callback`, code_challenge_method: 'S256', scope: 'openid homelab:read homelab:write' });
    expect(to.searchParams.get('code_challenge')).toMatch(/^[\w-]{43}$/);
    expect(stateCookie).toBe(`homelab_console_oauth=${to.searchParams.get('state')}`);
    expect(start.headers.getSetCookie()[0]).toMatch(/; Path=\/console\/oauth; HttpOnly; SameSite=Lax; Max-Age=600$/);
  });

  it('signs the person in with the token Authentik issues for the code, as their own subject', async () => {
    const { stateCookie, callback } = await flow();
    const back = await fetch(callback, { headers: { cookie: stateCookie }, redirect: 'manual' });
    expect(back.status).toBe(200);
    expect(await back.text()).toContain('<meta http-equiv="refresh" content="0;url=/console/">');
    const session = cookiesOf(back).find((c) => c.startsWith('homelab_console='))!;
    expect(back.headers.getSetCookie().find((c) => c.startsWith('homelab_console='))).toMatch(/HttpOnly; SameSite=Strict/);
    const me = (await (await fetch(`${base}/console/api/session`, { headers: { cookie: session } })).json()) as Record<string, unknown>;
    expect(me).toMatchObject({ subject: 'oauth:alice', canDecide: true });
    // The code was used: the same callback again is refused.
    const replay = await fetch(callback, { headers: { cookie: stateCookie } });
    expect(replay.status).toBe(400);
  });

  it('refuses a callback whose state this browser did not start', async () => {
    const { callback } = await flow();
    const res = await fetch(callback, { headers: { cookie: 'homelab_console_oauth=someone-else' } });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toMatch(/not started in this browser/);
    expect(res.headers.getSetCookie().some((c) => c.startsWith('homelab_console='))).toBe(false);
  });

  it('passes on what Authentik says when it does not sign the person in', async () => {
    const res = await fetch(`${base}/console/oauth/callback?error=access_denied&error_description=The+user+denied+access`);
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toBe('Authentik did not sign you in: The user denied access');
  });
});
