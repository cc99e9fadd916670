// The same get_routes work as a stdio MCP server, for mcp-proxy to put on HTTP.
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { AjvJsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/ajv-provider.js';
import { CallToolRequestSchema, ListToolsRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { getRoutesTool } from '../lib/work.js';

const tool = getRoutesTool.tool(process.env);
const server = new Server({ name: 'stdio-peer', version: '1' }, { capabilities: { tools: {} }, jsonSchemaValidator: new AjvJsonSchemaValidator() });
server.setRequestHandler(ListToolsRequestSchema, async () => ({ tools: [{ name: tool.name, description: tool.description, inputSchema: tool.inputSchema }] }));
server.setRequestHandler(CallToolRequestSchema, async (req) => {
  const out = await tool.run(req.params.arguments ?? {});
  return { structuredContent: out, content: [{ type: 'text', text: JSON.stringify(out) }] };
});
await server.connect(new StdioServerTransport());
// Its client (mcp-proxy) is gone when stdin ends.
process.stdin.on('end', () => process.exit(0));
