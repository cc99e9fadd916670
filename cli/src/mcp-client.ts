import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CliConfig } from './config.js';
import type { RunState } from './start.js';

/** The state `start` left in <home>/run.json, if it ran. */
export async function readRunState(cfg: CliConfig): Promise<RunState | undefined> {
  try {
    return JSON.parse(await readFile(join(cfg.home, 'run.json'), 'utf8')) as RunState;
  } catch {
    return undefined;
  }
}

export async function readToken(cfg: CliConfig, state?: RunState): Promise<string | undefined> {
  const file = state?.tokenFile ?? join(cfg.home, 'gateway', 'token');
  try {
    return (await readFile(file, 'utf8')).trim();
  } catch {
    return undefined;
  }
}

/** Connects the MCP SDK client to the gateway with the bearer token. */
export async function connectGateway(url: string, token: string | undefined): Promise<Client> {
  const client = new Client({ name: 'homelab-mcp-cli', version: '0.1.0' });
  const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } }));
  return client;
}
