export { ConfigError, parseEnv, failConfig, exampleOf, deepFreeze } from './config.js';
export { drain } from './drain.js';
export { isReadyMessage, reportReady, waitForReady, type ReadyMessage } from './ready.js';
export { waitFor } from './wait-for.js';
export { stopOnSignals, type StopReason } from './signals.js';
export { createLogger, runComponent, type StartedComponent } from './run.js';
export { fromMs, fromTimestamp, toMs, toTimestamp, type Duration, type Timestamp } from './timestamps.js';
