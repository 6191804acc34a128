import type { Counter, Registry } from "prom-client";
import { counter, gauge } from "../metrics.ts";
import type { OutboxStats } from "./types.ts";

export interface ActivationsMetrics {
  started: Counter<"marketplace">;
  finished: Counter<"marketplace" | "reason">;
  stale: Counter<"marketplace">;
  routed: Counter<"state">;
  pushAttempts: Counter<"marketplace" | "answer" | "outcome">;
  pushGivenUp: Counter<"marketplace" | "reason">;
}

export function createActivationsMetrics(
  registry: Registry,
  sources: { activeCount(): number; outboxes(): Iterable<[string, OutboxStats]> },
): ActivationsMetrics {
  gauge(registry, "simhive_activations_active", "Activations currently active", [], function () {
    this.set(sources.activeCount());
  });
  gauge(registry, "simhive_outbox_pending", "Push jobs not yet delivered, per marketplace", ["marketplace"], function () {
    this.reset();
    for (const [marketplace, stats] of sources.outboxes()) this.set({ marketplace }, stats.pending);
  });
  gauge(registry, "simhive_outbox_oldest_pending_seconds", "Age of the oldest undelivered push job, per marketplace (0 when none)", ["marketplace"], function () {
    this.reset();
    const now = Date.now();
    for (const [marketplace, stats] of sources.outboxes()) {
      this.set({ marketplace }, stats.oldestPendingAt === undefined ? 0 : (now - stats.oldestPendingAt) / 1000);
    }
  });
  gauge(registry, "simhive_outbox_given_up", "Push jobs ended by a partner's stop answer, per marketplace (kept on disk)", ["marketplace"], function () {
    this.reset();
    for (const [marketplace, stats] of sources.outboxes()) this.set({ marketplace }, stats.givenUp);
  });
  return {
    started: counter(registry, "simhive_activations_started_total", "Activations started (numbers issued)", ["marketplace"]),
    finished: counter(registry, "simhive_activations_finished_total", "Activations finished, by reason", ["marketplace", "reason"]),
    stale: counter(registry, "simhive_activations_stale_total", "Activations closed by the stale safety net (the marketplace never finished them)", ["marketplace"]),
    routed: counter(registry, "simhive_sms_routed_total", "Messages routed, by outcome", ["state"]),
    pushAttempts: counter(registry, "simhive_push_attempts_total", "Push attempts, by the partner's answer", ["marketplace", "answer", "outcome"]),
    pushGivenUp: counter(registry, "simhive_push_given_up_total", "Push jobs ended by a stop answer", ["marketplace", "reason"]),
  };
}
