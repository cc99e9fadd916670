import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { ShardChannels } from '../shard-clients.js';
import { appLogsCheck } from './checks/app-logs.js';
import { authCheck } from './checks/auth.js';
import { containerCheck } from './checks/container.js';
import { dockerProviderCheck } from './checks/docker-provider.js';
import { middlewareCheck } from './checks/middleware.js';
import { outcomeCheck } from './checks/outcome.js';
import { entryPointCheck, noRouterCheck, routerStatusCheck, ruleCheck } from './checks/routing.js';
import { serverAddressCheck } from './checks/server-address.js';
import { loopbackBindCheck, serverPortCheck, serverSchemeCheck } from './checks/server-port.js';
import { dependenciesCheck } from './checks/dependencies.js';
import { serviceCheck } from './checks/service.js';
import { tlsCheck } from './checks/tls.js';
import { gatherFacts } from './facts.js';
import { runChecks, type CheckRecord } from './runner.js';
import type { Check, Facts, Finding } from './types.js';

export { diagnoseTool, DIAGNOSE_TOOL_NAME } from './tool.js';

/** The order a request meets what is checked: a cause upstream explains the symptoms below it. */
export const CHECKS: readonly Check[] = [containerCheck, entryPointCheck, ruleCheck, routerStatusCheck, dockerProviderCheck, noRouterCheck, middlewareCheck, authCheck, serviceCheck, serverAddressCheck, serverSchemeCheck, serverPortCheck, loopbackBindCheck, tlsCheck, dependenciesCheck, appLogsCheck, outcomeCheck];

export interface DiagnoseResult {
  service: string;
  host: string;
  url: string;
  resolved_via: string;
  summary: string;
  findings: Finding[];
  checks: CheckRecord[];
  not_checked: { check: string; why: string }[];
}

function summarize(f: Facts, findings: readonly Finding[], checks: readonly CheckRecord[]): string {
  const subject = f.target.url ?? f.target.input;
  const top = findings.find((x) => x.severity !== 'info');
  const ran = checks.filter((c) => c.status === 'passed' || c.status === 'failed').map((c) => c.check);
  const notRun = checks.filter((c) => c.status === 'not_run');
  // A Docker node whose Watchman did not answer hides its containers: never "no problem found" then.
  const unread = f.unansweredNodes?.length ? ` Not read: the containers of ${f.unansweredNodes.join('; ')}.` : '';
  const tail = `Checks run: ${ran.join(', ') || 'none'}.${notRun.length ? ` Not run: ${notRun.map((c) => `${c.check} (${c.why})`).join('; ')}.` : ''}${unread}`;
  if (top) return `${subject}: ${top.what}${findings.length > 1 ? ` (${findings.length - 1} more finding${findings.length > 2 ? 's' : ''})` : ''} ${tail}`;
  if (!f.target.url) return `${f.target.input}: no router, container or Authentik application is known by this name. ${tail}`;
  if (notRun.length || unread) return `${subject}: no problem found by the checks that ran, but not everything could be checked. ${tail}`;
  return `${subject}: no problem found. ${tail}`;
}

/** diagnose_service: gather the facts once, run the checks in causal order, report. */
export async function diagnoseService(channels: ShardChannels, args: { service: string; path?: string | undefined; clientIp?: string | undefined }, signal: AbortSignal): Promise<CallToolResult> {
  const facts = await gatherFacts(channels, args, signal);
  const { findings, checks } = runChecks(CHECKS, facts);
  const result: DiagnoseResult = {
    service: args.service,
    host: facts.target.host ?? '',
    url: facts.target.url ?? '',
    resolved_via: facts.target.via,
    summary: summarize(facts, findings, checks),
    findings,
    checks,
    not_checked: checks.filter((c) => c.status === 'not_run').map((c) => ({ check: c.check, why: c.why ?? '' })),
  };
  const text = [result.summary, ...findings.map((x) => `- [${x.severity}/${x.cause}] ${x.what} Fix: ${x.fix}${x.fix_tool ? ` (${x.fix_tool.name} ${JSON.stringify(x.fix_tool.arguments)})` : ''}`)].join('\n');
  return { content: [{ type: 'text', text }], structuredContent: result as unknown as Record<string, unknown> };
}
