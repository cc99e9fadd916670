import { describe, expect, it } from '@jest/globals';
import { gatewayBanner } from '../src/start.js';

describe('the banner npm start prints', () => {
  const endpoints = { mcp: 'http://127.0.0.1:8765/mcp', tokenCreated: 'true' };

  it('shows a token it just created once, and where it is kept', () => {
    const text = gatewayBanner({ ...endpoints, auth: 'token' }, '/h/gateway/token', 'abc123').join('\n');
    expect(text).toContain('token         abc123');
    expect(text).toContain('--header "Authorization: Bearer <token>"');
    expect(gatewayBanner({ ...endpoints, tokenCreated: 'false', auth: 'token' }, '/h/gateway/token', undefined).join('\n')).toContain('stored in /h/gateway/token');
  });

  it('without authentication mentions no token at all', () => {
    const text = gatewayBanner({ ...endpoints, auth: 'none' }, '/h/gateway/token', 'abc123').join('\n');
    expect(text).toContain('auth          none');
    expect(text).not.toMatch(/token {2}|Bearer|abc123|\/h\/gateway\/token/);
    expect(text).toContain('npx @modelcontextprotocol/inspector --cli http://127.0.0.1:8765/mcp --transport http --method tools/list');
  });

  it('states who applies plans and where the console is', () => {
    const text = gatewayBanner({ ...endpoints, auth: 'token', approval: 'human', console: 'http://127.0.0.1:8765/console' }, '/h/gateway/token', undefined).join('\n');
    expect(text).toContain('approval      human: a person approves every change');
    expect(text).toContain('console       http://127.0.0.1:8765/console');
    expect(gatewayBanner({ ...endpoints, auth: 'token', approval: 'model' }, '/h/gateway/token', undefined).join('\n')).toContain('approval      model: the client applies its own plans');
  });
});
