import { SEVERITIES, type Check, type Facts, type Finding } from './types.js';

export type CheckStatus = 'passed' | 'failed' | 'not_run' | 'not_applicable';

export interface CheckRecord {
  check: string;
  status: CheckStatus;
  /** Why it did not run, or why it does not apply. */
  why?: string;
}

export interface RunResult {
  findings: Finding[];
  checks: CheckRecord[];
}

const FACT_WORDS: Record<string, string> = { routes: 'Traefik routers', trace: 'the request trace', containers: 'containers', apps: 'Authentik applications', logs: 'container logs' };

function runOne(check: Check, f: Facts, causeFound: boolean): { record: CheckRecord; findings: Finding[] } {
  const lacking = check.needs.find((n) => f.missing[n] !== undefined);
  if (lacking) return { record: { check: check.id, status: 'not_run', why: `${FACT_WORDS[lacking]} could not be read: ${f.missing[lacking]}` }, findings: [] };
  if (check.fallback && causeFound) return { record: { check: check.id, status: 'not_applicable', why: 'a cause was already found' }, findings: [] };
  const irrelevant = check.irrelevant?.(f);
  if (irrelevant) return { record: { check: check.id, status: 'not_applicable', why: irrelevant }, findings: [] };
  const findings = check.run(f);
  const failed = findings.some((x) => x.severity !== 'info');
  return { record: { check: check.id, status: failed ? 'failed' : 'passed' }, findings };
}

/**
 * Runs the checks in the order a request meets what they check, and records
 * each one's fate. Findings come out ranked by cause: severity first, then
 * the check's place on the request's way, so a stopped container outranks
 * the 404 it causes.
 */
export function runChecks(checks: readonly Check[], f: Facts): RunResult {
  const records: CheckRecord[] = [];
  const found: { finding: Finding; order: number }[] = [];
  checks.forEach((check, order) => {
    const { record, findings } = runOne(check, f, found.some((x) => x.finding.severity === 'critical'));
    records.push(record);
    found.push(...findings.map((finding) => ({ finding, order })));
  });
  found.sort((a, b) => SEVERITIES.indexOf(a.finding.severity) - SEVERITIES.indexOf(b.finding.severity) || a.order - b.order);
  return { findings: found.map((x) => x.finding), checks: records };
}
