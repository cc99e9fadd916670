import { getOption, hasOption, type DescExtension, type DescField, type DescMethod, type FileRegistry } from '@bufbuild/protobuf';

/** (homelab.mcp.v1.tool); present only when the RPC sets the option. */
export interface ToolOptions {
  title: string;
  readOnly: boolean;
  destructive: boolean;
  idempotent: boolean;
  openWorld: boolean;
  requiresConfirmation: boolean;
  timeoutMs: number;
  maxTimeoutMs: number;
  /** A read-only RPC of the same service that shows whether a call took effect ('' when unset). */
  verifyWith: string;
}

/** (homelab.mcp.v1.field); unset optional limits stay undefined. */
export interface FieldRules {
  required: boolean;
  pattern: string;
  minLen?: number;
  maxLen?: number;
  minimum?: number;
  maximum?: number;
  minItems?: number;
  maxItems?: number;
  format: string;
  secret: boolean;
  examples: string[];
  /** The RPC (by its name in the service) that suggests values for this argument ('' when unset). */
  completeWith: string;
}

/** (homelab.mcp.v1.resource): the RPC reads a resource or a resource template. */
export interface ResourceOptions {
  uri: string;
  name: string;
  title: string;
  mimeType: string;
  watchWith: string;
  listWith: string;
}

/** (homelab.mcp.v1.prompt): the RPC renders a prompt. */
export interface PromptOptions {
  name: string;
  title: string;
}

export interface OptionReaders {
  tool(method: DescMethod): ToolOptions | undefined;
  field(field: DescField): FieldRules | undefined;
  resource(method: DescMethod): ResourceOptions | undefined;
  prompt(method: DescMethod): PromptOptions | undefined;
}

const TOOL_EXTENSION = 'homelab.mcp.v1.tool';
const FIELD_EXTENSION = 'homelab.mcp.v1.field';
const RESOURCE_EXTENSION = 'homelab.mcp.v1.resource';
const PROMPT_EXTENSION = 'homelab.mcp.v1.prompt';
/** The request type of an RPC that completes arguments: such an RPC is never a tool. */
export const COMPLETE_REQUEST = 'homelab.mcp.v1.CompleteRequest';

/**
 * Reads the project's custom options reflectively, through the extension
 * descriptors in the shard's own registry, so no generated code is needed and
 * a shard that does not import tool.proto simply has no options.
 */
export function createOptionReaders(registry: FileRegistry): OptionReaders {
  const toolExt = registry.getExtension(TOOL_EXTENSION);
  const fieldExt = registry.getExtension(FIELD_EXTENSION);
  const resourceExt = registry.getExtension(RESOURCE_EXTENSION);
  const promptExt = registry.getExtension(PROMPT_EXTENSION);
  return {
    resource: (method) => (resourceExt && isOn(resourceExt, 'method') && hasOption(method, resourceExt) ? (getOption(method, resourceExt) as unknown as ResourceOptions) : undefined),
    prompt: (method) => (promptExt && isOn(promptExt, 'method') && hasOption(method, promptExt) ? (getOption(method, promptExt) as unknown as PromptOptions) : undefined),
    tool: (method) => (toolExt && isOn(toolExt, 'method') && hasOption(method, toolExt) ? (getOption(method, toolExt) as unknown as ToolOptions) : undefined),
    field: (field) => (fieldExt && isOn(fieldExt, 'field') && hasOption(field, fieldExt) ? (getOption(field, fieldExt) as unknown as FieldRules) : undefined),
  };
}

function isOn(ext: DescExtension, target: 'method' | 'field'): boolean {
  return ext.extendee.typeName === (target === 'method' ? 'google.protobuf.MethodOptions' : 'google.protobuf.FieldOptions');
}
