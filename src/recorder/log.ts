/**
 * Structured JSON logs (pino), one line per event. `alert` lines are errors that need a person (records lost, a
 * disk failing, a seal failed): they carry `"alert": true` so that log-based alerting can select them.
 */
import { type DestinationStream, type Logger, pino } from "pino";

export interface RecorderLog {
  debug(message: string, details?: Record<string, unknown>): void;
  info(message: string, details?: Record<string, unknown>): void;
  warn(message: string, details?: Record<string, unknown>): void;
  alert(message: string, details?: Record<string, unknown>): void;
  child(bindings: Record<string, unknown>): RecorderLog;
}

export function wrapPino(logger: Logger): RecorderLog {
  return {
    debug: (m, d) => logger.debug(d ?? {}, m),
    info: (m, d) => logger.info(d ?? {}, m),
    warn: (m, d) => logger.warn(d ?? {}, m),
    alert: (m, d) => logger.error({ ...d, alert: true }, m),
    child: (b) => wrapPino(logger.child(b)),
  };
}

/** JSON lines to `destination` (default stdout) at `level` (default info). */
export function createLog(options: { level?: string; destination?: DestinationStream } = {}): RecorderLog {
  const logger = pino(
    {
      level: options.level ?? "info",
      base: { service: "ticktape-recorder" },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    // Synchronous: log lines are few (none per message), and each must survive a crash right after it.
    options.destination ?? pino.destination({ dest: 1, sync: true }),
  );
  return wrapPino(logger);
}

/** A log that keeps nothing (library use without logging). */
export const silentLog: RecorderLog = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  alert: () => {},
  child: () => silentLog,
};
