import { pino, type Logger, type LevelWithSilent } from "pino";

export type { Logger };

export interface LogOptions {
  level?: LevelWithSilent;
  /** Where JSON lines go; stdout by default (journald keeps them). */
  destination?: NodeJS.WritableStream;
}

/**
 * Structured JSON lines to stdout. SMS texts and codes are never logged unless
 * the `debug.logSmsText` option is on; fields named `text` are redacted as a
 * second line of defence.
 */
export function createLogger(options: LogOptions = {}): Logger {
  const level = options.level ?? ((process.env.SIMHIVE_LOG_LEVEL as LevelWithSilent | undefined) ?? "info");
  return pino(
    {
      level,
      base: { service: "simhive" },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: ["text", "*.text", "key", "*.key", "apiKey", "*.apiKey"], censor: "[hidden]" },
      formatters: { level: (label) => ({ level: label }) },
    },
    (options.destination as pino.DestinationStream | undefined) ?? pino.destination({ fd: 1, sync: false }),
  );
}

/** A logger that drops everything, for tests that do not read logs. */
export function silentLogger(): Logger {
  return pino({ level: "silent" });
}
