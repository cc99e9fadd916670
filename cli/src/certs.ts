import { readdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { describeCertificate, ensurePki, issueIdentity } from '@homelab-mcp/pki';
import type { CliConfig } from './config.js';

export interface ComponentCerts {
  caFile: string;
  identities: Record<string, { certFile: string; keyFile: string }>;
}

export const componentIdentities = ['gateway', 'shard-traefik', 'shard-dozzle', 'shard-authentik'];

const csv = (s: string) => s.split(',').map((x) => x.trim()).filter(Boolean);

function certsDir(cfg: CliConfig, dir: string | undefined, env: NodeJS.ProcessEnv = {}): string {
  return resolve(dir ?? env.HOMELAB_MCP_CERTS_DIR ?? join(cfg.home, 'pki'));
}

/** Creates the CA and the component certificates on first run; reports progress through `say`. */
export async function ensureComponentCerts(_cfg: CliConfig, dir: string, say: (msg: string) => void, names = componentIdentities, dnsNames: string[] = []): Promise<ComponentCerts> {
  const result = await ensurePki(dir, names, { dnsNames, onCreate: (what: string) => say(`created ${what}`) });
  return result;
}

/** Where the gateway's own TLS files are: GATEWAY_TLS_* when set, else the `start` layout. */
export function gatewayTlsFiles(dir: string, env: NodeJS.ProcessEnv): { caFile: string; certFile: string; keyFile: string } {
  return {
    caFile: env.GATEWAY_TLS_CA ?? join(dir, 'ca.pem'),
    certFile: env.GATEWAY_TLS_CERT ?? join(dir, 'gateway', 'cert.pem'),
    keyFile: env.GATEWAY_TLS_KEY ?? join(dir, 'gateway', 'key.pem'),
  };
}

export async function runCertsInit(cfg: CliConfig, opts: { dir?: string; names: string; dns: string }, env: NodeJS.ProcessEnv = {}): Promise<void> {
  const dir = certsDir(cfg, opts.dir, env);
  process.stdout.write(`certificates in ${dir}\n`);
  const certs = await ensureComponentCerts(cfg, dir, (m) => process.stdout.write(`  ${m}\n`), csv(opts.names), csv(opts.dns));
  for (const [id, files] of Object.entries(certs.identities)) process.stdout.write(`  ${id.padEnd(16)} ${files.certFile}\n`);
}

export async function runCertsIssue(cfg: CliConfig, identity: string, opts: { dir?: string; dns: string; days: string }, env: NodeJS.ProcessEnv = {}): Promise<void> {
  const dir = certsDir(cfg, opts.dir, env);
  const days = Number(opts.days);
  if (!Number.isInteger(days) || days < 1 || days > 3650) throw new Error(`--days must be a whole number from 1 to 3650 (example: --days 365), got "${opts.days}"`);
  const files = await issueIdentity(dir, identity, { dnsNames: csv(opts.dns), days });
  process.stdout.write(`issued ${identity}: ${files.certFile}\n`);
}

export async function runCertsShow(cfg: CliConfig, opts: { dir?: string }, env: NodeJS.ProcessEnv = {}): Promise<number> {
  const dir = certsDir(cfg, opts.dir, env);
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => undefined);
  if (!entries) {
    process.stderr.write(`no certificates in ${dir}: run \`homelab-mcp certs init\`\n`);
    return 1;
  }
  let soon = 0;
  const files = [join(dir, 'ca.pem'), ...entries.filter((e) => e.isDirectory()).map((e) => join(dir, e.name, 'cert.pem'))];
  for (const file of files) {
    const pem = await readFile(file, 'utf8').catch(() => undefined);
    if (!pem) continue;
    const d = describeCertificate(pem);
    if (d.daysLeft < 30) soon++;
    process.stdout.write(`${(d.identity ?? d.subject).padEnd(18)} expires ${d.notAfter.toISOString().slice(0, 10)} (${d.daysLeft} days)  ${d.sans.join(', ')}\n`);
  }
  return soon > 0 ? 1 : 0;
}
