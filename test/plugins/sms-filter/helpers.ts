import type { Activation } from "../../../core/activations/types.ts";
import type { Registry } from "prom-client";
import type { SmsMessage } from "../../../core/types.ts";

let sequence = 0;

export function sms(sender: string, text: string): SmsMessage {
  sequence++;
  return {
    messageId: `${String(Date.now()).padStart(15, "0")}-${String(sequence).padStart(16, "0")}`,
    fingerprint: String(sequence).padStart(16, "0"),
    iccid: "89701020000000000001",
    msisdn: "79161234567",
    sender,
    text,
    receivedAt: Date.now(),
    parts: Math.max(1, Math.ceil(text.length / 67)),
    complete: true,
  };
}

export function activation(service: string): Activation {
  return {
    activationId: 355,
    marketplace: "onlinesim",
    msisdn: "79161234567",
    iccid: "89701020000000000001",
    country: "russia",
    operator: "mts",
    service,
    state: "active",
    createdAt: Date.now(),
  };
}

/** `service|decision|reason` → count, from the decisions counter. */
export async function decisionCounts(metrics: Registry): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  const metric = metrics.getSingleMetric("simhive_sms_filter_decisions_total");
  if (!metric) return counts;
  const { values } = await metric.get();
  for (const { labels, value } of values) counts.set(`${labels.service}|${labels.decision}|${labels.reason}`, value);
  return counts;
}
