import { describe, it, expect } from '@jest/globals';
import { TOOL_NAME_PATTERN, assignToolNames, fitToolName, toSnakeCase, toolNameProblem } from '../src/discovery/tool-names.js';

describe('tool names', () => {
  it('turns RPC names into snake_case', () => {
    expect(toSnakeCase('TailLogs')).toBe('tail_logs');
    expect(toSnakeCase('CheckSSLStatus')).toBe('check_ssl_status');
    expect(toSnakeCase('GetContainerStats2')).toBe('get_container_stats2');
  });

  it('prefixes only colliding names, the same way whatever the order', () => {
    const tools = [
      { shard: 'traefik', base: 'get_status', item: 1 },
      { shard: 'dozzle', base: 'get_status', item: 2 },
      { shard: 'dozzle', base: 'tail_logs', item: 3 },
      { shard: 'authentik', base: 'homelab_status', item: 4 },
    ];
    const a = assignToolNames(tools, new Set(['homelab_status']));
    const b = assignToolNames([...tools].reverse(), new Set(['homelab_status']));
    expect([...a.keys()].sort()).toEqual(['authentik_homelab_status', 'dozzle_get_status', 'tail_logs', 'traefik_get_status']);
    expect([...b.entries()].map(([k, v]) => [k, v.item]).sort()).toEqual([...a.entries()].map(([k, v]) => [k, v.item]).sort());
  });

  it('keeps long names within 64 characters and unique', () => {
    const long = 'x'.repeat(80);
    const names = [...assignToolNames([{ shard: 'a', base: `${long}1`, item: 1 }, { shard: 'a', base: `${long}2`, item: 2 }], new Set()).keys()];
    expect(names).toHaveLength(2);
    expect(new Set(names).size).toBe(2);
    for (const n of names) expect(n).toMatch(TOOL_NAME_PATTERN);
  });

  it('fits any name into one every client takes, without what the MCP SDK warns about', () => {
    for (const raw of ['get_routes', 'a.b', '-lead', 'trail-', 'sp ace', 'x'.repeat(200), '', '\u00e9t\u00e9', '--']) {
      const fitted = fitToolName(raw);
      expect({ raw, fitted, problem: toolNameProblem(fitted) }).toEqual({ raw, fitted, problem: undefined });
    }
    expect(toolNameProblem('-lead')).toMatch(/starts or ends with a dash/);
    expect(toolNameProblem('a.b')).toMatch(/64 letters/);
  });
});
