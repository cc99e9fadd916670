// The benchmark's direct MCP server: the get_routes work in-process, no gateway, no gRPC.
import { startDirectServer } from '../lib/direct-server.js';
import { getRoutesTool } from '../lib/work.js';

const port = Number(process.env.BENCH_PORT ?? 0);
const server = await startDirectServer([getRoutesTool.tool(process.env)], port);
process.on('SIGTERM', () => void server.close().then(() => process.exit(0)));
// Started by the bench over an IPC channel: when the bench goes away, however it ended, so does this server.
process.on('disconnect', () => void server.close().finally(() => process.exit(0)));
