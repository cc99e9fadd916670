import * as grpc from '@grpc/grpc-js';
import type { DescFile } from '@bufbuild/protobuf';
import {
  ServerReflectionService,
  type ServerReflectionRequest,
  type ServerReflectionResponse,
} from '@homelab-mcp/proto/ts/grpc/reflection/v1/reflection.js';
import type { DescriptorSet } from './descriptor-set.js';

/** v1alpha is v1 under its older package name: the same messages, another path. */
const V1ALPHA: grpc.ServiceDefinition = {
  serverReflectionInfo: { ...ServerReflectionService.serverReflectionInfo, path: '/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo' },
};

function answer(set: DescriptorSet, services: string[], req: ServerReflectionRequest): ServerReflectionResponse {
  const res = { validHost: req.host, originalRequest: req };
  const error = (code: grpc.status, message: string): ServerReflectionResponse => ({ ...res, errorResponse: { errorCode: code, errorMessage: message } });
  const files = (file: DescFile | undefined, what: string): ServerReflectionResponse =>
    file ? { ...res, fileDescriptorResponse: { fileDescriptorProto: set.withDependencies(file) } } : error(grpc.status.NOT_FOUND, `${what} not found`);

  if (req.listServices !== undefined) return { ...res, listServicesResponse: { service: services.map((name) => ({ name })) } };
  if (req.fileByFilename !== undefined) return files(set.file(req.fileByFilename), `file ${req.fileByFilename}`);
  if (req.fileContainingSymbol !== undefined) return files(set.fileOfSymbol(req.fileContainingSymbol), `symbol ${req.fileContainingSymbol}`);
  if (req.fileContainingExtension !== undefined) {
    const { containingType, extensionNumber } = req.fileContainingExtension;
    return files(set.fileOfExtension(containingType, extensionNumber), `extension ${extensionNumber} of ${containingType}`);
  }
  if (req.allExtensionNumbersOfType !== undefined) {
    const numbers = set.extensionNumbers(req.allExtensionNumbersOfType);
    if (!numbers) return error(grpc.status.NOT_FOUND, `type ${req.allExtensionNumbersOfType} not found`);
    return { ...res, allExtensionNumbersResponse: { baseTypeName: req.allExtensionNumbersOfType, extensionNumber: numbers } };
  }
  return error(grpc.status.INVALID_ARGUMENT, 'unsupported reflection request');
}

/**
 * Serves gRPC server reflection (v1 and v1alpha) from the descriptor set: the
 * original buf-built file bytes, so comments and custom options survive.
 */
export function addReflectionToServer(server: grpc.Server, set: DescriptorSet, services: string[]): void {
  // Only services whose descriptors this set can hand out: a client that lists
  // methods asks for the file of every listed service.
  const listed = services.filter((s) => set.fileOfSymbol(s));
  const handler = (call: grpc.ServerDuplexStream<ServerReflectionRequest, ServerReflectionResponse>) => {
    call.on('data', (req: ServerReflectionRequest) => call.write(answer(set, listed, req)));
    call.on('end', () => call.end());
    call.on('error', () => call.end());
  };
  for (const definition of [ServerReflectionService, V1ALPHA]) server.addService(definition, { serverReflectionInfo: handler });
}
