/**
 * Errors that callers and tests match by `code`, never by sentence
 * (the habit of Fastify's FST_ERR_* codes).
 */
export type ErrorCode =
  | "SIMHIVE_ERR_CONFIG"
  | "SIMHIVE_ERR_CONFIG_NOT_FOUND"
  | "SIMHIVE_ERR_STORE_LOCKED"
  | "SIMHIVE_ERR_STORE_OPEN"
  | "SIMHIVE_ERR_STORE_VERSION"
  | "SIMHIVE_ERR_PLUGIN_LOAD"
  | "SIMHIVE_ERR_PLUGIN_DEPENDENCY"
  | "SIMHIVE_ERR_PLUGIN_START"
  | "SIMHIVE_ERR_PLUGIN_TIMEOUT"
  | "SIMHIVE_ERR_PDU"
  | "SIMHIVE_ERR_MODEM"
  | "SIMHIVE_ERR_TIMEOUT"
  | "SIMHIVE_ERR_ADMIN";

export class SimhiveError extends Error {
  readonly code: ErrorCode;
  readonly details: readonly string[];

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; details?: readonly string[] }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = "SimhiveError";
    this.code = code;
    this.details = options?.details ?? [];
  }
}

export function isSimhiveError(error: unknown, code?: ErrorCode): error is SimhiveError {
  return error instanceof SimhiveError && (code === undefined || error.code === code);
}

/** A message fit for a log line or a terminal, with the cause chain but no stack. */
export function describeError(error: unknown): string {
  if (error instanceof Error) {
    const cause = error.cause === undefined ? "" : ` (cause: ${describeError(error.cause)})`;
    return `${error.message}${cause}`;
  }
  return String(error);
}

/** Rejects with a SIMHIVE_ERR_TIMEOUT error if `promise` has not settled after `ms`. */
export async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new SimhiveError("SIMHIVE_ERR_TIMEOUT", `${what} did not finish within ${ms} ms`)), ms);
    timer.unref();
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
