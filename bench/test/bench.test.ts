import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { runBench } from '../run.js';

describe('npm run bench -- --short', () => {
  it('runs every section once and writes its results (no timing is judged)', async () => {
    const before = new Set(await readdir(join(process.cwd(), 'bench', 'results')).catch(() => []));
    const lines: string[] = [];
    const code = await runBench({ short: true, progress: { write: () => true } as unknown as NodeJS.WritableStream, out: { write: (s: string) => (lines.push(s), true) } as unknown as NodeJS.WritableStream });
    expect(code).toBe(0);
    const text = lines.join('');
    for (const section of ['npm start', 'idle RSS per component', 'tools/call get_routes', 'diagnose_service', 'soak', 'discovery', 'search_logs over', 'fan-out: list_containers with 1, 2 and 4 Watchman instances', 'RSS after the run']) expect(text).toContain(section);
    // Every merged call answered, with every instance asked.
    for (const row of ['list_containers, 1 instance', 'list_containers, 2 instances', 'list_containers, 4 instances', 'search_logs, 1 instance', 'search_logs, 2 instances']) expect(text).toMatch(new RegExp(`${row}\\s+\\d+\\s+0\\s`));
    // A warm start leaves nothing but the components running (no build service beside them).
    expect(text).toMatch(/warm 1\s+\d+\.\d+\s+none/);
    expect(text).toMatch(/gateway -> shard\s+1\s+\d+\s+0\s/);
    // CPU per call on each path, every process on it found (a missing one would print NaN or be left out).
    expect(text).toMatch(/gateway -> shard\s+client \d+\.\d+ \+ gateway \d+\.\d+ \+ shard \d+\.\d+ \+ stand-ins \d+\.\d+ = \d+\.\d+ ms/);
    // diagnose_service answers without error for the healthy and the broken services, at 1 and 10 clients.
    for (const service of ['whoami', 'nothing.home.lan', 'jellyfin']) {
      expect(text).toMatch(new RegExp(`${service.replace(/\./g, '\\.')}\\s+1\\s+\\d+\\s+0\\s`));
      expect(text).toMatch(new RegExp(`${service.replace(/\./g, '\\.')}\\s+10\\s+\\d+\\s+0\\s`));
    }
    expect(text).toMatch(/mcp-proxy \+ stdio\s+client \d+\.\d+ \+ mcp-proxy \d+\.\d+ \+ stdio server \d+\.\d+ \+ stand-ins \d+\.\d+ = /);
    const added = (await readdir(join(process.cwd(), 'bench', 'results'))).filter((f) => !before.has(f));
    expect(added).toHaveLength(1);
    const json = JSON.parse(await readFile(join(process.cwd(), 'bench', 'results', added[0] ?? ''), 'utf8')) as { sections: unknown[]; summary: Record<string, unknown> };
    expect(json.sections).toHaveLength(9);
    // Every ratio the targets name, under its stable key, measured in this run.
    for (const key of ['gatewayToDirectCallsPerSecondAt50', 'gatewayToProxyCallsPerSecondAt50', 'gatewayAddedP50MsAt1', 'proxyAddedP50MsAt1', 'gatewayCpuToProxyCpuPerCall', 'shardCpuToStdioServerCpuPerCall', 'gatewayPathUpstreamRequestsPerCall', 'startupWarmSeconds', 'fanOutListP50FourToOneInstance', 'fanOutSearchP50TwoToOneInstance']) {
      expect(typeof json.summary[key]).toBe('number');
    }
    for (const key of ['idleRssMiB', 'idleAnonRssMiB']) {
      expect({ key, components: Object.keys(json.summary[key] as object) }).toEqual({ key, components: expect.arrayContaining(['gateway', 'shard-traefik', 'shard-dozzle', 'shard-authentik']) });
    }
  }, 480_000);
});
