import { gzipSync } from "node:zlib";
import type { Activation, DeliveryResult, MarketplaceSink, PushJob } from "../../core/activations/types.ts";
import type { Logger } from "../../core/log.ts";
import type { SmsMessage } from "../../core/types.ts";

/** What an outbox job keeps: the SMS fields. `action` and `key` are added at send time (the key is not stored per job). */
export interface PushPayload {
  smsId: number;
  phoneFrom: string;
  phone: string;
  text: string;
}

/** Seed 000: these answers end the job; everything else is tried again. */
export const STOP_ANSWERS = new Set(["NO_OPERATION", "NO_OP", "BAD_SERVICE", "IGNORED", "SERVICE_BAN"]);

export interface PushSettings {
  pushUrl: string;
  key: string;
  gzip: boolean;
  timeoutMs: number;
  retryIntervalMs: number;
  concurrency: number;
  userAgent: string;
}

/** The PUSH_SMS body, fields in the order of seed 000's example. */
export function pushBody(payload: PushPayload, key: string): string {
  return JSON.stringify({ smsId: payload.smsId, phoneFrom: payload.phoneFrom, phone: payload.phone, text: payload.text, action: "PUSH_SMS", key });
}

/** A short, low-cardinality description of an error, for `lastAnswer` and the metric label. */
function networkAnswer(error: unknown): string {
  const err = error as { name?: string; cause?: { code?: string; name?: string } };
  if (err.name === "TimeoutError" || err.name === "AbortError" || err.cause?.name === "TimeoutError") return "timeout";
  const code = err.cause?.code;
  if (code === "ECONNREFUSED") return "refused";
  if (code === "ECONNRESET" || code === "UND_ERR_SOCKET") return "reset";
  if (code === "ENOTFOUND" || code === "EAI_AGAIN") return "dns";
  if (code?.startsWith("UND_ERR_") && code.includes("TIMEOUT")) return "timeout";
  return "network-error";
}

/** The partner's code from a JSON answer: `{"status":"NO_OPERATION"}` or `{"status":"ERROR","error":"NO_OPERATION"}`. */
function partnerCode(answer: unknown): string | undefined {
  if (!answer || typeof answer !== "object") return undefined;
  const { status, error } = answer as { status?: unknown; error?: unknown };
  for (const value of [error, status]) {
    if (typeof value === "string" && STOP_ANSWERS.has(value.trim().toUpperCase())) return value.trim().toUpperCase();
  }
  return typeof status === "string" ? status.trim().toUpperCase() : undefined;
}

/** An attempt's result, with the partner's HTTP status when it answered. */
export type PushResult = DeliveryResult & { httpStatus?: number };

/**
 * One PUSH_SMS attempt. Done only on HTTP 200 with status SUCCESS (seed
 * 001:267 and issue 4; seed 000:5 would take any 200); a stop answer ends the
 * job; anything else retries.
 */
export async function deliverPush(job: PushJob<PushPayload>, settings: PushSettings): Promise<PushResult> {
  const json = pushBody(job.payload, settings.key);
  const headers: Record<string, string> = {
    "Content-Type": "application/json; charset=utf-8",
    "User-Agent": settings.userAgent,
    "Accept-Encoding": "gzip",
  };
  let body: string | Uint8Array = json;
  if (settings.gzip) {
    body = gzipSync(json);
    headers["Content-Encoding"] = "gzip";
  }
  let status: number;
  let text: string;
  try {
    const response = await fetch(settings.pushUrl, { method: "POST", headers, body, signal: AbortSignal.timeout(settings.timeoutMs), redirect: "error" });
    status = response.status;
    text = await response.text();
  } catch (error) {
    return { outcome: "retry", answer: networkAnswer(error) };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return { outcome: "retry", answer: status === 200 ? "bad-json" : `http-${status}`, httpStatus: status };
  }
  const code = partnerCode(parsed);
  if (code !== undefined && STOP_ANSWERS.has(code)) return { outcome: "stop", reason: code, answer: status === 200 ? code : `http-${status} ${code}`, httpStatus: status };
  if (status === 200 && code === "SUCCESS") return { outcome: "done", answer: "SUCCESS", httpStatus: status };
  const shortCode = code !== undefined && /^[A-Z_]{1,32}$/.test(code) ? code : "unexpected";
  return { outcome: "retry", answer: status === 200 ? shortCode : `http-${status}`, httpStatus: status };
}

/**
 * The outbox sink. A job's first HTTP 200 that is not SUCCESS is logged as a
 * warning (the seeds disagree on whether it means delivered, see README.md):
 * the job is retried, and the operator sees a partner answering oddly.
 */
export function createPushSink(settings: () => PushSettings, log: Logger): MarketplaceSink<PushPayload> {
  const warned = new Set<string>();
  return {
    buildPayload(message: SmsMessage, activation: Activation): PushPayload {
      return { smsId: activation.activationId, phoneFrom: message.sender, phone: activation.msisdn, text: message.text };
    },
    deliver: async (job) => {
      const result = await deliverPush(job, settings());
      if (result.outcome !== "retry") warned.delete(job.jobId);
      else if (result.httpStatus === 200 && !warned.has(job.jobId)) {
        warned.add(job.jobId);
        log.warn(
          { activationId: job.activationId, messageId: job.messageId, attempts: job.attempts + 1, answer: result.answer },
          "PUSH_SMS answered HTTP 200 without status SUCCESS; not counted as delivered, sent again (seed 000:5 would take any 200, 001:267 only SUCCESS)",
        );
      }
      return result;
    },
    get retryIntervalMs() {
      return settings().retryIntervalMs;
    },
    get concurrency() {
      return settings().concurrency;
    },
  };
}
