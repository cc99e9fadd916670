import type { CliConfig } from './config.js';
import { connectGateway, readRunState, readToken } from './mcp-client.js';

/** `homelab-mcp status`: what the gateway's homelab_status tool reports. */
export async function runStatus(cfg: CliConfig, opts: { gateway?: string; json?: boolean }): Promise<number> {
  const state = await readRunState(cfg);
  const url = opts.gateway ?? state?.mcpUrl;
  if (!url) {
    process.stderr.write('No gateway URL: start one with `npm start`, or pass --gateway http://host:8765/mcp\n');
    return 2;
  }
  const client = await connectGateway(url, await readToken(cfg, state));
  try {
    const res = await client.callTool({ name: 'homelab_status', arguments: {} });
    if (opts.json) process.stdout.write(`${JSON.stringify(res.structuredContent ?? res, null, 2)}\n`);
    else for (const c of (res.content as { type: string; text?: string }[]) ?? []) if (c.type === 'text') process.stdout.write(`${c.text}\n`);
    return res.isError ? 1 : 0;
  } finally {
    await client.close();
  }
}

/** `homelab-mcp token`: print the gateway's bearer token. */
export async function runToken(cfg: CliConfig): Promise<number> {
  const token = await readToken(cfg, await readRunState(cfg));
  if (!token) {
    process.stderr.write(`No token yet in ${cfg.home}/gateway/token: run \`npm start\` once to create it.\n`);
    return 1;
  }
  process.stdout.write(`${token}\n`);
  return 0;
}
