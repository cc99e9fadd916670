import { join } from 'node:path';
import { Command, Option } from 'commander';
import { pino } from 'pino';
import { loadCliConfig, loadHealthcheckTls } from './config.js';
import { defineHealthcheck } from './healthcheck-command.js';

// The one file of the CLI with side effects: parse the command line, read the
// environment once, run the command, set the exit code.
const program = new Command()
  .name('homelab-mcp')
  .description('One MCP endpoint for your homelab: gateway, shards (Traefik, Dozzle, Authentik) and tools around them.')
  .version('0.1.0')
  .showHelpAfterError('(run with --help for usage)');

let cached: ReturnType<typeof loadCliConfig> | undefined;
const config = () => (cached ??= loadCliConfig(process.env));
const logger = () => pino({ level: config().logLevel, base: undefined }, pino.destination(2));

program
  .command('start')
  .description('Start the gateway and the shards on 127.0.0.1 (by default with the built-in homelab stand-ins), then print the MCP URL and token.')
  .addOption(new Option('--only <components>', 'comma-separated subset to run').default('sim,shard-traefik,shard-dozzle,shard-authentik,gateway'))
  .option('--no-sim', 'do not start the stand-ins; shards use TRAEFIK_API, DOZZLE_API/DOCKER_HOST and AUTHENTIK_URL from the environment')
  .action(async (opts: { only: string; sim: boolean }) => {
    const { runStart } = await import('./start.js');
    const only = new Set(opts.only.split(',').map((s) => s.trim()).filter(Boolean));
    if (!opts.sim) only.delete('sim');
    await runStart(config(), logger(), { only, env: process.env });
  });

const certs = program.command('certs').description('Manage the private CA and the certificates of the gateway and shards.');
certs
  .command('init')
  .description('Create the CA and a certificate per component (idempotent: keeps what exists).')
  .option('--dir <dir>', 'certificate directory (default: $HOMELAB_MCP_CERTS_DIR or <home>/pki)')
  .option('--names <names>', 'identities to issue', process.env.HOMELAB_MCP_CERT_NAMES ?? 'gateway,shard-traefik,shard-dozzle,shard-authentik')
  .option('--dns <names>', 'extra DNS names for every certificate, comma-separated (e.g. the Traefik host name)', '')
  .action(async (opts: { dir?: string; names: string; dns: string }) => {
    const { runCertsInit } = await import('./certs.js');
    await runCertsInit(config(), opts, process.env);
  });
certs
  .command('issue <identity>')
  .description('Issue (or re-issue) the certificate of one identity, e.g. shard-traefik for a second node, or shard-dozzle/nas for the Watchman instance of node nas (files in <dir>/shard-dozzle.nas/).')
  .option('--dir <dir>', 'certificate directory')
  .option('--dns <names>', 'DNS names the certificate should carry, comma-separated', '')
  .option('--days <days>', 'validity in days', '365')
  .action(async (identity: string, opts: { dir?: string; dns: string; days: string }) => {
    const { runCertsIssue } = await import('./certs.js');
    await runCertsIssue(config(), identity, opts, process.env);
  });
certs
  .command('show')
  .description('Show each certificate: identity, names, expiry and days left.')
  .option('--dir <dir>', 'certificate directory')
  .action(async (opts: { dir?: string }) => {
    const { runCertsShow } = await import('./certs.js');
    process.exitCode = await runCertsShow(config(), opts, process.env);
  });

const collect = (value: string, previous: string[]) => [...previous, value];
program
  .command('own')
  .description('Hand the directories and files a deployment\'s containers use to the user they run as (the owners-init service of the compose files runs this as root with only CAP_CHOWN and CAP_FOWNER).')
  .requiredOption('--user <uid:gid>', 'numeric user and group the containers run as, e.g. 1000:1000')
  .option('--tree <dir>', 'a directory to hand over with everything in it (repeatable)', collect, [])
  .option('--dir <dir>', 'a directory to hand over itself, only if the user cannot write there yet (repeatable)', collect, [])
  .option('--secret <file>', 'a secret file to hand over and make readable by its owner only (repeatable)', collect, [])
  .action(async (opts: { user: string; tree: string[]; dir: string[]; secret: string[] }) => {
    const { parseUser, runOwn } = await import('./own.js');
    await runOwn({ ...parseUser(opts.user), trees: opts.tree, dirs: opts.dir, secrets: opts.secret }, (line) => process.stdout.write(`own: ${line}\n`));
  });

program
  .command('doctor')
  .description('Check every shard and upstream (DNS, TCP, TLS identity, health, tokens, /dynamic, socket proxy) and a compose deployment\'s files (owners, secrets), and print each problem with its fix. Exits non-zero on any problem.')
  .option('--gateway <url>', 'gateway MCP URL (default: the one `start` wrote to <home>/run.json)')
  .option('--compose <dir>', 'also check the compose deployment in <dir>: owners of what containers mount, secret files (default: the current directory when it has docker-compose.mcp.yaml and .env)')
  .action(async (opts: { gateway?: string; compose?: string }) => {
    const { runDoctor } = await import('./doctor.js');
    process.exitCode = await runDoctor(config(), { ...opts, env: process.env });
  });

program
  .command('status')
  .description('Show what the gateway knows about each shard (the homelab_status tool).')
  .option('--gateway <url>', 'gateway MCP URL')
  .option('--json', 'print JSON')
  .action(async (opts: { gateway?: string; json?: boolean }) => {
    const { runStatus } = await import('./status.js');
    process.exitCode = await runStatus(config(), opts);
  });

program
  .command('token')
  .description('Print the gateway bearer token (kept in <home>/gateway/token, mode 0600).')
  .action(async () => {
    const { runToken } = await import('./status.js');
    process.exitCode = await runToken(config());
  });

defineHealthcheck(program.command('healthcheck'), () => loadHealthcheckTls(process.env));

program
  .command('build')
  .description('Compile each component into one ES module in dist/ (what `start` runs; `start` builds first on its own).')
  .option('--runtime <dir>', 'also write, per image, <dir>/<image>/ with its bundles and only the node_modules they need (what the Dockerfile copies)')
  .action(async (opts: { runtime?: string }) => {
    const { buildComponents } = await import('./build.js');
    const { bundles, metafile, ms } = await buildComponents();
    for (const [name, file] of Object.entries(bundles)) process.stdout.write(`${name.padEnd(16)} ${file}\n`);
    process.stdout.write(`built in ${Math.round(ms)} ms\n`);
    if (opts.runtime) {
      const { writeRuntimeTrees } = await import('./runtime-tree.js');
      for (const [image, tree] of Object.entries(await writeRuntimeTrees(metafile, bundles, opts.runtime))) {
        process.stdout.write(`${image.padEnd(16)} ${join(opts.runtime, image)} (${tree.packages.length} packages)\n`);
      }
    }
  });

program
  .command('bench')
  .description('Run the benchmark suite from a checkout (the same as npm run bench; see bench/README.md).')
  .option('--short', 'a short run (what CI does)')
  .action(async (opts: { short?: boolean }) => {
    // The bench drives this CLI's launcher; it runs as its own program, so the CLI never imports it.
    const { runBenchProgram } = await import('./bench-program.js');
    process.exitCode = await runBenchProgram(opts.short ? ['--short'] : []);
  });

program.parseAsync(process.argv).catch((err: unknown) => {
  process.stderr.write(`homelab-mcp: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
