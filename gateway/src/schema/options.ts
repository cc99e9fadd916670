import { getOption, hasOption, type DescExtension, type DescField, type DescMethod, type DescService, type FileRegistry } from '@bufbuild/protobuf';

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

/** (homelab.mcp.v1.fan_out) MergeOptions: how instances' answers become one. */
export interface MergeOptions {
  items: string;
  nodeField: string;
  sortBy: string;
  descending: boolean;
  limitArgument: string;
}

/** (homelab.mcp.v1.fan_out) RouteOptions: the one instance that holds the object. */
export interface RouteOptions {
  key: string;
  locateWith: string;
  locateRequest: string;
  locateItems: string;
  match: string[];
  merge?: MergeOptions;
}

/** (homelab.mcp.v1.fan_out): how several instances of the shard combine for the RPC. */
export interface FanOutOptions {
  nodeArgument: string;
  mode: { case: 'merge'; value: MergeOptions } | { case: 'route'; value: RouteOptions } | { case: undefined; value?: undefined };
}

export interface OptionReaders {
  tool(method: DescMethod): ToolOptions | undefined;
  fanOut(method: DescMethod): FanOutOptions | undefined;
  /** (homelab.mcp.v1.service).single_instance of the service. */
  singleInstance(service: DescService): boolean;
  field(field: DescField): FieldRules | undefined;
  resource(method: DescMethod): ResourceOptions | undefined;
  prompt(method: DescMethod): PromptOptions | undefined;
}

const TOOL_EXTENSION = 'homelab.mcp.v1.tool';
const FIELD_EXTENSION = 'homelab.mcp.v1.field';
const RESOURCE_EXTENSION = 'homelab.mcp.v1.resource';
const PROMPT_EXTENSION = 'homelab.mcp.v1.prompt';
const FAN_OUT_EXTENSION = 'homelab.mcp.v1.fan_out';
const SERVICE_EXTENSION = 'homelab.mcp.v1.service';
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
  const fanOutExt = registry.getExtension(FAN_OUT_EXTENSION);
  const serviceExt = registry.getExtension(SERVICE_EXTENSION);
  return {
    fanOut: (method) => (fanOutExt && isOn(fanOutExt, 'method') && hasOption(method, fanOutExt) ? (getOption(method, fanOutExt) as unknown as FanOutOptions) : undefined),
    singleInstance: (service) =>
      !!serviceExt && serviceExt.extendee.typeName === 'google.protobuf.ServiceOptions' && hasOption(service, serviceExt) && (getOption(service, serviceExt) as unknown as { singleInstance: boolean }).singleInstance,
    resource: (method) => (resourceExt && isOn(resourceExt, 'method') && hasOption(method, resourceExt) ? (getOption(method, resourceExt) as unknown as ResourceOptions) : undefined),
    prompt: (method) => (promptExt && isOn(promptExt, 'method') && hasOption(method, promptExt) ? (getOption(method, promptExt) as unknown as PromptOptions) : undefined),
    tool: (method) => (toolExt && isOn(toolExt, 'method') && hasOption(method, toolExt) ? (getOption(method, toolExt) as unknown as ToolOptions) : undefined),
    field: (field) => (fieldExt && isOn(fieldExt, 'field') && hasOption(field, fieldExt) ? (getOption(field, fieldExt) as unknown as FieldRules) : undefined),
  };
}

function isOn(ext: DescExtension, target: 'method' | 'field'): boolean {
  return ext.extendee.typeName === (target === 'method' ? 'google.protobuf.MethodOptions' : 'google.protobuf.FieldOptions');
}
