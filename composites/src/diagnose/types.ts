import type { Route, TraceHop, TraceRequestResponse } from '@homelab-mcp/proto/ts/homelab/traefik/v1/navigator.js';
import type { Container, LogLine } from '@homelab-mcp/proto/ts/homelab/dozzle/v1/watchman.js';
import type { Application } from '@homelab-mcp/proto/ts/homelab/authentik/v1/gatekeeper.js';

export const SEVERITIES = ['critical', 'warning', 'info'] as const;
export type Severity = (typeof SEVERITIES)[number];

/** What a finding blames, in the order a request meets it. */
export const CAUSE_CLASSES = ['container', 'entry-point', 'rule', 'priority', 'middleware', 'auth', 'service', 'server-port', 'tls', 'app'] as const;
export type CauseClass = (typeof CAUSE_CLASSES)[number];

export interface Finding {
  severity: Severity;
  cause: CauseClass;
  check: string;
  what: string;
  evidence: string[];
  /** What to change: the exact label, rule or setting. */
  fix: string;
  /** The tool call that makes the fix (or the first step of it), where a tool can. */
  fix_tool?: { name: string; arguments: Record<string, unknown> };
}

/** The request a diagnosis follows. */
export interface Target {
  /** What the caller asked about. */
  input: string;
  /** The service name when the caller gave one. */
  name?: string;
  url?: string;
  host?: string;
  /** How the host was found, e.g. "router gitea@docker". */
  via: string;
  /** Findings of the resolution itself (a name whose nearest host differs from it). */
  findings: Finding[];
}

export type FactKind = 'routes' | 'trace' | 'containers' | 'apps' | 'logs';

/** Everything the checks read, gathered once; a fact that could not be read says why. */
export interface Facts {
  target: Target;
  routes?: Route[];
  trace?: TraceRequestResponse;
  containers?: Container[];
  apps?: Application[];
  /** Containers that serve the target (by routing labels, name, or server address), most likely first. */
  related: Container[];
  /** Recent log lines by container name. */
  /** The last lines of each related container, by the container (names repeat across nodes). */
  logs?: Map<Container, LogLine[]>;
  /** Docker nodes whose Watchman did not answer, with why: their containers are missing from `containers`. */
  unansweredNodes?: string[];
  missing: Partial<Record<FactKind, string>>;
}

export interface Check {
  id: string;
  /** The facts it reads; when one is missing the check does not run. */
  needs: FactKind[];
  /** Why the check does not apply to this request, or undefined when it does. */
  irrelevant?(f: Facts): string | undefined;
  run(f: Facts): Finding[];
  /** Runs only when no check before it found a critical cause. */
  fallback?: boolean;
}

/** The last hop of the trace: where the request ends. */
export const lastHop = (f: Facts): TraceHop | undefined => f.trace?.hops.at(-1);
