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
}

export interface OptionReaders {
  tool(method: DescMethod): ToolOptions | undefined;
  field(field: DescField): FieldRules | undefined;
}

const TOOL_EXTENSION = 'homelab.mcp.v1.tool';
const FIELD_EXTENSION = 'homelab.mcp.v1.field';

/**
 * Reads the project's custom options reflectively, through the extension
 * descriptors in the shard's own registry, so no generated code is needed and
 * a shard that does not import tool.proto simply has no options.
 */
export function createOptionReaders(registry: FileRegistry): OptionReaders {
  const toolExt = registry.getExtension(TOOL_EXTENSION);
  const fieldExt = registry.getExtension(FIELD_EXTENSION);
  return {
    tool: (method) => (toolExt && isOn(toolExt, 'method') && hasOption(method, toolExt) ? (getOption(method, toolExt) as unknown as ToolOptions) : undefined),
    field: (field) => (fieldExt && isOn(fieldExt, 'field') && hasOption(field, fieldExt) ? (getOption(field, fieldExt) as unknown as FieldRules) : undefined),
  };
}

function isOn(ext: DescExtension, target: 'method' | 'field'): boolean {
  return ext.extendee.typeName === (target === 'method' ? 'google.protobuf.MethodOptions' : 'google.protobuf.FieldOptions');
}
