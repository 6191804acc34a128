import type { JsonSchema } from "../../core/plugins.ts";
import { timerMaximum } from "../../core/timers.ts";

export interface OnlinesimConfig {
  apiKey: string;
  /** The partner key sent in PUSH_SMS bodies; `apiKey` when absent. */
  pushKey?: string;
  pushUrl: string;
  path: string;
  services: string[];
  allowFrom?: string[];
  pushGzip: boolean;
  retrySeconds: number;
  pushConcurrency: number;
  pushTimeoutSeconds: number;
  /** GET_NUMBER answers within this, whatever happens inside (the partner cancels after 10 s). */
  answerTimeoutSeconds: number;
}

export const configSchema: JsonSchema = {
  type: "object",
  additionalProperties: false,
  required: ["apiKey", "pushUrl"],
  properties: {
    apiKey: { type: "string", minLength: 1, description: "The partner API key Onlinesim sends (body `key`, Bearer or `apikey`)." },
    pushKey: { type: "string", minLength: 1, description: "The key sent in PUSH_SMS bodies, when Onlinesim gave a different one; apiKey otherwise." },
    pushUrl: { type: "string", format: "uri", pattern: "^https?://", description: "Onlinesim's PUSH_SMS webhook URL (given by partner support)." },
    path: { type: "string", pattern: "^/[A-Za-z0-9._~-][A-Za-z0-9._~/-]*$", default: "/onlinesim", description: "Where Onlinesim's requests arrive." },
    services: {
      type: "array",
      items: { type: "string", minLength: 1 },
      minItems: 1,
      default: ["ot"],
      description: "Services offered, as marketplace codes or names (vk/vkontakte, fb/facebook, wa/whatsapp ... are the same).",
    },
    allowFrom: {
      type: "array",
      items: { type: "string", minLength: 1 },
      description: "Source addresses (IPs or CIDR ranges) allowed to call; anyone with the key when absent.",
    },
    pushGzip: { type: "boolean", default: false, description: "gzip-encode PUSH_SMS bodies." },
    retrySeconds: { type: "number", exclusiveMinimum: 0, maximum: timerMaximum(1000), default: 10, description: "Seconds from the start of one PUSH_SMS attempt to the next while the partner has not accepted it (seed 000:6: 10 s)." },
    pushConcurrency: { type: "integer", minimum: 1, maximum: 256, default: 8, description: "PUSH_SMS requests in flight at once." },
    pushTimeoutSeconds: { type: "number", exclusiveMinimum: 0, maximum: timerMaximum(1000), default: 10, description: "A PUSH_SMS attempt without an answer by then is retried." },
    answerTimeoutSeconds: { type: "number", exclusiveMinimum: 0, maximum: 9, default: 5, description: "GET_NUMBER answers NO_NUMBERS rather than wait longer than this." },
  },
};

export function withDefaults(config: Partial<OnlinesimConfig> & Pick<OnlinesimConfig, "apiKey" | "pushUrl">): OnlinesimConfig {
  return {
    path: "/onlinesim",
    services: ["ot"],
    pushGzip: false,
    retrySeconds: 10,
    pushConcurrency: 8,
    pushTimeoutSeconds: 10,
    answerTimeoutSeconds: 5,
    ...config,
  };
}
