import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import { CAUSE_CLASSES, SEVERITIES } from './types.js';

export const DIAGNOSE_TOOL_NAME = 'diagnose_service';

const findingSchema = {
  type: 'object',
  properties: {
    severity: { type: 'string', enum: [...SEVERITIES] },
    cause: { type: 'string', enum: [...CAUSE_CLASSES], description: 'What the finding blames, in the order a request meets it.' },
    check: { type: 'string' },
    what: { type: 'string' },
    evidence: { type: 'array', items: { type: 'string' } },
    fix: { type: 'string', description: 'The exact label, rule or setting to change.' },
    fix_tool: { type: 'object', properties: { name: { type: 'string' }, arguments: { type: 'object' } }, required: ['name', 'arguments'] },
  },
  required: ['severity', 'cause', 'check', 'what', 'evidence', 'fix'],
} as const;

const checkSchema = {
  type: 'object',
  properties: { check: { type: 'string' }, status: { type: 'string', enum: ['passed', 'failed', 'not_run', 'not_applicable'] }, why: { type: 'string' } },
  required: ['check', 'status'],
} as const;

export const diagnoseTool: Tool = {
  name: DIAGNOSE_TOOL_NAME,
  title: 'Diagnose a service',
  description:
    'Explain why a service fails ("why is Gitea 404ing?") by following a request the way Traefik does (trace_request), then the container, Authentik and the app\'s logs. ' +
    'Checks, in the order a request meets them: the container (stopped, crash-looping, unhealthy: its router vanishes), the entry point and redirections, the rule (typo, path not covered, priority), ' +
    'disabled routers, middlewares, forwardAuth (the outpost exists, runs and serves this application), the service and its servers, the server port against the port the app logs, TLS, then the app\'s errors. ' +
    'Findings come ranked by cause, each with evidence and a fix (the exact tool call, or the label or rule to change); `checks` says which checks ran, which could not and why. ' +
    'Give a service name, a host or a full URL with the path that fails.',
  inputSchema: {
    type: 'object',
    properties: {
      service: { type: 'string', minLength: 1, maxLength: 2048, description: 'Service name, host or URL, e.g. "gitea", "gitea.home.lan" or "https://gitea.home.lan/api/v1/version".' },
      path: { type: 'string', maxLength: 256, pattern: '^/', description: 'Path that fails, for a name or host, e.g. "/api".' },
      client_ip: { type: 'string', maxLength: 45, description: 'The client\'s address as Traefik sees it (ipAllowList and ClientIP rules use it), e.g. "192.168.20.15".' },
    },
    required: ['service'],
    additionalProperties: false,
  },
  outputSchema: {
    type: 'object',
    properties: {
      service: { type: 'string' },
      host: { type: 'string' },
      url: { type: 'string' },
      resolved_via: { type: 'string' },
      summary: { type: 'string' },
      findings: { type: 'array', items: findingSchema },
      checks: { type: 'array', items: checkSchema },
      not_checked: { type: 'array', items: { type: 'object', properties: { check: { type: 'string' }, why: { type: 'string' } }, required: ['check', 'why'] } },
    },
    required: ['service', 'host', 'url', 'summary', 'findings', 'checks', 'not_checked'],
  },
  annotations: { title: 'Diagnose a service', readOnlyHint: true, idempotentHint: true, openWorldHint: true },
};
