import type { BlobResourceContents, ContentBlock, TextResourceContents } from '@modelcontextprotocol/sdk/types.js';

/*
 * homelab.mcp.v1 content messages (as proto3 JSON with .proto field names)
 * in their MCP forms. Bytes are base64 in proto3 JSON, as MCP wants them.
 */

type Json = Record<string, unknown>;
const str = (v: unknown) => (typeof v === 'string' ? v : '');

/** A ResourceBody: text or blob, under the URI read when it names none. */
export function toResourceContents(body: Json, uri: string, mimeType: string): TextResourceContents | BlobResourceContents {
  const base = { uri: str(body.uri) || uri, mimeType: str(body.mime_type) || mimeType };
  return typeof body.blob === 'string' ? { ...base, blob: body.blob } : { ...base, text: str(body.text) };
}

function link(ref: Json): ContentBlock {
  return {
    type: 'resource_link',
    uri: str(ref.uri),
    name: str(ref.name) || str(ref.uri),
    ...(ref.title ? { title: str(ref.title) } : {}),
    ...(ref.description ? { description: str(ref.description) } : {}),
    ...(ref.mime_type ? { mimeType: str(ref.mime_type) } : {}),
  };
}

/** A Content message; undefined when it holds nothing. */
export function toContentBlock(content: Json): ContentBlock | undefined {
  if (typeof content.text === 'string') return { type: 'text', text: content.text };
  for (const kind of ['image', 'audio'] as const) {
    const media = content[kind] as Json | undefined;
    if (media) return { type: kind, data: str(media.data), mimeType: str(media.mime_type) };
  }
  if (content.resource) return { type: 'resource', resource: toResourceContents(content.resource as Json, '', 'text/plain') };
  if (content.resource_link) return link(content.resource_link as Json);
  return undefined;
}
