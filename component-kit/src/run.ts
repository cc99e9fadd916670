import { pino, type Logger } from 'pino';
import { ConfigError } from './config.js';
import { reportReady } from './ready.js';
import { stopOnSignals, type StopReason } from './signals.js';

/** A started component: where it listens, and how it drains and stops. */
export interface StartedComponent {
  endpoints: Record<string, string>;
  close(reason: StopReason): Promise<void>;
}

/** The JSON logger every component writes to stdout, tagged with its name. */
export function createLogger(component: string, level = 'info'): Logger {
  return pino({ level, base: { component } });
}

/**
 * A component's main: starts it, stops it on SIGTERM/SIGINT or when the
 * launcher goes away (stopOnSignals), and reports where it listens
 * (reportReady). A configuration error exits 2 with its message, any other
 * failure to start exits 1.
 */
export async function runComponent(name: string, logger: Logger, start: () => Promise<StartedComponent>): Promise<void> {
  try {
    const started = await start();
    stopOnSignals((reason) => started.close(reason), logger);
    reportReady(started.endpoints);
  } catch (err) {
    if (err instanceof ConfigError) {
      logger.fatal(err.message);
      process.exit(2);
    }
    logger.fatal({ err }, `${name} could not start`);
    process.exit(1);
  }
}
