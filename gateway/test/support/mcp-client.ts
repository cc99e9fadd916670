import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ResourceUpdatedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';

/** An MCP SDK client on a gateway's endpoint with its token (if it has one); `updated` hears every notifications/resources/updated. */
export async function connectClient(gateway: { url: string; token?: string | undefined }, name: string, updated?: (uri: string) => void): Promise<Client> {
  const client = new Client({ name, version: '1.0.0' });
  if (updated) client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => void updated(n.params.uri));
  const headers = gateway.token ? { authorization: `Bearer ${gateway.token}` } : undefined;
  await client.connect(new StreamableHTTPClientTransport(new URL(gateway.url), headers ? { requestInit: { headers } } : {}));
  return client;
}
