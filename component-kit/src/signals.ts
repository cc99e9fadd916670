import type { Logger } from 'pino';

/** Why a component stops: a signal, or the launcher that forked it going away. */
export type StopReason = 'SIGTERM' | 'SIGINT' | 'launcher gone';

/**
 * Stops the process the same way for every component: on SIGTERM or SIGINT,
 * or when the launcher that forked it goes away (even killed outright, it
 * closes the IPC channel), `stop` drains and closes; then the process exits 0,
 * or 1 if stopping failed. A second signal while draining exits at once.
 */
export function stopOnSignals(stop: (reason: StopReason) => Promise<void>, logger: Logger): void {
  let stopping = false;
  const onStop = (reason: StopReason) => {
    if (stopping) {
      if (reason === 'launcher gone') return;
      logger.warn({ signal: reason }, 'second signal: exiting without waiting for the drain');
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal: reason }, 'shutting down: draining in-flight work');
    stop(reason).then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => onStop('SIGTERM'));
  process.on('SIGINT', () => onStop('SIGINT'));
  if (process.send) process.once('disconnect', () => onStop('launcher gone'));
}
