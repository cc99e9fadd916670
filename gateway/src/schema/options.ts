import { getOption, hasOption, type DescExtension, type DescField, type DescMethod, type FileRegistry } from '@bufbuild/protobuf';

/** (homelab.mcp.v1.tool), read reflectively so any shard's contract works. */
export interface ToolOptions {
  title?: string;
  readOnly?: boolean;
  destructive?: boolean;
  idempotent?: boolean;
  openWorld?: boolean;
  requiresConfirmation?: boolean;
  timeoutMs?: number;
  maxTimeoutMs?: number;
}

/** (homelab.mcp.v1.field). */
export interface FieldRules {
  required?: boolean;
  pattern?: string;
  minLen?: number;
  maxLen?: number;
  minimum?: number;
  maximum?: number;
  minItems?: number;
  maxItems?: number;
  format?: string;
  secret?: boolean;
  examples?: string[];
}

export interface OptionReaders {
  tool(method: DescMethod): ToolOptions;
  field(field: DescField): FieldRules;
}

function extension(registry: FileRegistry, name: string): DescExtension | undefined {
  return registry.getExtension(name);
}

/** Reads the project's custom options through the shard's own registry (from reflection). */
export function createOptionReaders(registry: FileRegistry): OptionReaders {
  const toolExt = extension(registry, 'homelab.mcp.v1.tool');
  const fieldExt = extension(registry, 'homelab.mcp.v1.field');
  return {
    tool: (method) => {
      if (!toolExt || !hasOption(method as never, toolExt as never)) return {};
      return getOption(method as never, toolExt as never) as unknown as ToolOptions;
    },
    field: (field) => {
      if (!fieldExt || !hasOption(field as never, fieldExt as never)) return {};
      return getOption(field as never, fieldExt as never) as unknown as FieldRules;
    },
  };
}
