import type { ActivationsApi, OutboxStats } from "../../core/activations/types.ts";
import type { HubEvents } from "../../core/bus.ts";
import type { ModemInfo, NumbersView } from "../../core/types.ts";

/** The retained state of one modem: what the operator watches; never SMS content. */
export interface ModemStatePayload {
  imei: string;
  port: string;
  state: ModemInfo["state"];
  reason: string | null;
  signal: number | null;
  registration: string | null;
  operator: string | null;
  country: string | null;
  iccid: string | null;
  number: string | null;
  storage: { used: number | null; total: number | null };
  lastSmsAt: string | null;
  reconnects: number;
}

const iso = (ms: number | undefined): string | null => (ms === undefined ? null : new Date(ms).toISOString());

/** `updatedAt` is left out so that an update that changes nothing publishes nothing. */
export function modemPayload(modem: ModemInfo & { imei: string }): ModemStatePayload {
  return {
    imei: modem.imei,
    port: modem.port,
    state: modem.state,
    reason: modem.reason ?? null,
    signal: modem.signalDbm ?? null,
    registration: modem.registration ?? null,
    operator: modem.operator ?? null,
    country: modem.country ?? null,
    iccid: modem.iccid ?? null,
    number: modem.msisdn ?? null,
    storage: { used: modem.storageUsed ?? null, total: modem.storageTotal ?? null },
    lastSmsAt: iso(modem.lastSmsAt),
    reconnects: modem.reconnects,
  };
}

/** One outbox's figures as published: `failed` is the jobs the partner's answers stopped (given up). */
export interface OutboxFigures {
  pending: number;
  delivered: number;
  failed: number;
  /** When the oldest pending job was created; null when none is pending. */
  oldestPendingAt: string | null;
}

export interface StatsPayload {
  numbers: { total: number; available: number };
  activations: { active: number };
  sms: { received: number; forwarded: number; dropped: number; held: number; unrouted: number };
  /**
   * Exact, from the marketplaces' outboxes (ActivationsApi.outboxStats): jobs
   * on disk, those left by an earlier run included; `delivered` and `failed`
   * are the finished jobs the store still keeps (retention). Summed over the
   * marketplaces, and per marketplace in `marketplaces`.
   */
  outbox: OutboxFigures & { marketplaces: Record<string, OutboxFigures> };
  modems: { total: number; ready: number };
  /** Seconds since the hub process started. */
  uptimeSeconds: number;
  memory: { rss: number; heapUsed: number };
  at: string;
}

function outboxFigures(stats: OutboxStats): OutboxFigures {
  return { pending: stats.pending, delivered: stats.delivered, failed: stats.givenUp, oldestPendingAt: iso(stats.oldestPendingAt) };
}

/** Sums every marketplace's outbox; the oldest pending job is the oldest of all. */
export function outboxPayload(byMarketplace: Record<string, OutboxStats>): StatsPayload["outbox"] {
  const marketplaces: Record<string, OutboxFigures> = {};
  let pending = 0;
  let delivered = 0;
  let failed = 0;
  let oldest: number | undefined;
  for (const [marketplace, stats] of Object.entries(byMarketplace)) {
    marketplaces[marketplace] = outboxFigures(stats);
    pending += stats.pending;
    delivered += stats.delivered;
    failed += stats.givenUp;
    if (stats.oldestPendingAt !== undefined && (oldest === undefined || stats.oldestPendingAt < oldest)) oldest = stats.oldestPendingAt;
  }
  return { pending, delivered, failed, oldestPendingAt: iso(oldest), marketplaces };
}

/** SMS counters kept from bus events since the plugin started; numbers, activations and outboxes read at publish time. */
export class StatsCollector {
  received = 0;
  forwarded = 0;
  dropped = 0;
  held = 0;
  unrouted = 0;

  routed(route: HubEvents["sms.routed"]["route"]): void {
    if (route.state === "forwarded") this.forwarded += 1;
    else if (route.state === "dropped") this.dropped += 1;
    else if (route.state === "held") this.held += 1;
    else if (route.state === "no-activation" || route.state === "after-finish") this.unrouted += 1;
  }

  async snapshot(numbers: NumbersView, activations: ActivationsApi, modems: readonly ModemInfo[], now = Date.now()): Promise<StatsPayload> {
    const usable = numbers.list();
    const active = await activations.listRecent(Math.max(1_000, usable.length * 2), { state: "active" });
    const busy = new Set(active.map((activation) => activation.msisdn));
    const memory = process.memoryUsage();
    return {
      numbers: { total: usable.length, available: usable.filter((n) => !busy.has(n.msisdn)).length },
      activations: { active: active.length },
      sms: { received: this.received, forwarded: this.forwarded, dropped: this.dropped, held: this.held, unrouted: this.unrouted },
      outbox: outboxPayload(activations.outboxStats()),
      modems: { total: modems.length, ready: modems.filter((m) => m.state === "ready").length },
      uptimeSeconds: Math.round(process.uptime()),
      memory: { rss: memory.rss, heapUsed: memory.heapUsed },
      at: new Date(now).toISOString(),
    };
  }
}
