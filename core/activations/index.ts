import type { Registry } from "prom-client";
import type { EventBus } from "../bus.ts";
import type { Hooks } from "../hooks.ts";
import type { Logger } from "../log.ts";
import { MessageRepository } from "../store/messages.ts";
import type { BatchOp, Store, Sublevel } from "../store/store.ts";
import type { NumbersView } from "../types.ts";
import { resolveActivationsConfig } from "./config.ts";
import { normaliseExceptionPrefixes } from "./exceptions.ts";
import { createActivationsMetrics, type ActivationsMetrics } from "./metrics.ts";
import { Outbox } from "./outbox.ts";
import { NumberPool } from "./pool.ts";
import { SmsRouter, type Marketplace } from "./routing.ts";
import type {
  Activation,
  ActivationsConfig,
  ActivationsService,
  ActivationState,
  CountTree,
  FinishReason,
  FinishResult,
  MarketplaceSink,
  NumberRequest,
  OutboxHandle,
  OutboxStats,
  ServiceHistory,
} from "./types.ts";

export { activationsConfigSchema, defaultActivationsConfig } from "./config.ts";
export { listActivations, listSms } from "./report.ts";

export interface ActivationsDeps {
  store: Store;
  bus: EventBus;
  log: Logger;
  hooks: Hooks;
  numbers: NumbersView;
  metrics: Registry;
  config?: Partial<ActivationsConfig>;
}

const COUNTER_KEY = "activationId";
const OWNER = "core:activations";

/** Activation keys sort numerically: zero-padded. */
export function activationKey(activationId: number): string {
  return activationId.toString().padStart(12, "0");
}

export function historyKey(msisdn: string, service: string): string {
  return `${msisdn}:${service}`;
}

/** Builds the marketplace-neutral activations service (not started). */
export function createActivations(deps: ActivationsDeps): ActivationsService {
  return new Activations(deps);
}

class Activations implements ActivationsService {
  readonly #deps: ActivationsDeps;
  readonly #config: ActivationsConfig;
  readonly #log: Logger;
  readonly #pool: NumberPool;
  readonly #activations: Sublevel<Activation>;
  readonly #active: Sublevel<number>;
  readonly #historyStore: Sublevel<ServiceHistory>;
  readonly #counters: Sublevel<number>;
  readonly #messages: MessageRepository;
  readonly #marketplaces = new Map<string, Marketplace>();
  readonly #metrics: ActivationsMetrics;
  readonly #router: SmsRouter;
  readonly #finishing = new Map<number, Promise<FinishResult>>();
  #counter = 0;
  #started = false;
  #staleTimer: NodeJS.Timeout | undefined;
  #unsubscribe: (() => void) | undefined;

  constructor(deps: ActivationsDeps) {
    this.#deps = deps;
    this.#config = resolveActivationsConfig(deps.config);
    this.#log = deps.log;
    this.#pool = new NumberPool(this.#config.cancelLimit, (number, missing) =>
      this.#log.warn(
        { iccid: number.iccid, msisdn: number.msisdn, country: number.country, operator: number.operator },
        missing === "country"
          ? `SIM of unknown country (MCC/MNC not in the table): not offered to any marketplace; set modems.operators.${number.iccid} (country and operator, in the marketplace's names)`
          : `SIM of unknown operator (MNC not in the table): offered only for operator "any"; set modems.operators.${number.iccid}.operator`,
      ),
    );
    this.#activations = deps.store.sub<Activation>("activations");
    this.#active = deps.store.sub<number>("activations-active");
    this.#historyStore = deps.store.sub<ServiceHistory>("history");
    this.#counters = deps.store.sub<number>("counters");
    this.#messages = new MessageRepository(deps.store);
    this.#metrics = createActivationsMetrics(deps.metrics, {
      activeCount: () => this.#pool.activeCount,
      outboxes: () => [...this.#marketplaces].map(([name, { outbox }]) => [name, outbox.stats()] as [string, ReturnType<Outbox["stats"]>]),
    });
    this.#router = new SmsRouter({
      store: deps.store,
      messages: this.#messages,
      pool: this.#pool,
      hooks: deps.hooks,
      bus: deps.bus,
      log: this.#log,
      metrics: this.#metrics,
      marketplaces: this.#marketplaces,
    });
  }

  // ---- lifecycle ----------------------------------------------------------

  async start(): Promise<void> {
    if (this.#started) return;
    await this.#load();
    this.#started = true;
    this.#unsubscribe = this.#deps.bus.on("sms.received", OWNER, ({ message }) => this.#router.route(message));
    this.#deps.store.registerPruner("activations", (cutoff) => this.#prune(cutoff));
    this.#scheduleStaleCheck();
    await this.#sweepStale();
    await this.#router.routePending();
  }

  async stop(): Promise<void> {
    if (!this.#started) return;
    this.#started = false;
    this.#unsubscribe?.();
    if (this.#staleTimer) clearTimeout(this.#staleTimer);
    this.#staleTimer = undefined;
    await this.#router.stop();
    await Promise.allSettled([...this.#finishing.values()]);
    await Promise.all([...this.#marketplaces.values()].map(({ outbox }) => outbox.stop()));
    this.#marketplaces.clear();
  }

  async #load(): Promise<void> {
    let maxId = (await this.#counters.get(COUNTER_KEY)) ?? 0;
    for await (const activation of this.#activations.values()) {
      maxId = Math.max(maxId, activation.activationId);
      if (activation.state === "finished") this.#pool.rememberFinished(activation);
    }
    for await (const [msisdn, activationId] of this.#active.iterator()) {
      const activation = await this.#activations.get(activationKey(activationId));
      if (activation?.state === "active") this.#pool.markActive(activation);
      else this.#log.warn({ msisdn, activationId }, "active index pointed at a missing or finished activation; ignored");
    }
    for await (const record of this.#historyStore.values()) this.#pool.setHistory(record);
    this.#counter = maxId;
    this.#log.info({ active: this.#pool.activeCount, lastActivationId: maxId }, "activations loaded");
  }

  // ---- numbers ------------------------------------------------------------

  counts(marketplace: string, services: readonly string[]): CountTree {
    return this.#pool.counts(this.#deps.numbers.list(), marketplace, services, this.#deps.hooks.numberFilter);
  }

  async reserve(raw: NumberRequest): Promise<Activation | null> {
    if (!this.#started) return null;
    const request: NumberRequest = { ...raw, exceptionPrefixes: normaliseExceptionPrefixes(raw.exceptionPrefixes) };
    // Pick and mark synchronously: no other request can run between the two.
    const number = this.#pool.pick(this.#deps.numbers.list(), request, this.#deps.hooks.numberFilter);
    if (!number) return null;
    const activationId = ++this.#counter;
    const activation: Activation = {
      activationId,
      marketplace: request.marketplace,
      msisdn: number.msisdn,
      iccid: number.iccid,
      imei: number.imei,
      country: number.country,
      operator: number.operator,
      service: request.service,
      ...(request.sum === undefined ? {} : { sum: request.sum }),
      state: "active",
      createdAt: Date.now(),
    };
    this.#pool.markActive(activation);
    try {
      await this.#deps.store.batch([
        { type: "put", sublevel: this.#activations, key: activationKey(activationId), value: activation },
        { type: "put", sublevel: this.#active, key: activation.msisdn, value: activationId },
        { type: "put", sublevel: this.#counters, key: COUNTER_KEY, value: activationId },
      ]);
    } catch (error) {
      // The id is not reused (gaps are harmless); the number goes back.
      this.#pool.unmarkActive(activation);
      throw error;
    }
    this.#metrics.started.inc({ marketplace: activation.marketplace });
    this.#log.info({ activationId, marketplace: activation.marketplace, msisdn: activation.msisdn, service: activation.service }, "activation started");
    this.#deps.bus.emit("activation.started", { activationId, marketplace: activation.marketplace, msisdn: activation.msisdn, service: activation.service });
    return activation;
  }

  history(msisdn: string, service: string): ServiceHistory | undefined {
    return this.#pool.history(msisdn, service);
  }

  // ---- finishing ----------------------------------------------------------

  finish(marketplace: string, activationId: number, status: number, reason: FinishReason, options: { sum?: number } = {}): Promise<FinishResult> {
    const inProgress = this.#finishing.get(activationId);
    if (inProgress) {
      return inProgress.then((result) => (result.found && result.activation.marketplace === marketplace ? { ...result, alreadyFinished: true } : { found: false }));
    }
    const finishing = this.#finish(marketplace, activationId, status, reason, options).finally(() => this.#finishing.delete(activationId));
    this.#finishing.set(activationId, finishing);
    return finishing;
  }

  async #finish(marketplace: string, activationId: number, status: number, reason: FinishReason, options: { sum?: number }): Promise<FinishResult> {
    const active = this.#pool.activeById(activationId);
    const activation = active ?? (await this.#activations.get(activationKey(activationId)));
    if (!activation || activation.marketplace !== marketplace) return { found: false };
    if (activation.state === "finished") return { found: true, activation, alreadyFinished: true };
    const now = Date.now();
    const finished: Activation = { ...activation, state: "finished", finishedAt: now, finishStatus: status, finishReason: reason };
    const ops: BatchOp[] = [
      { type: "put", sublevel: this.#activations, key: activationKey(activationId), value: finished },
      { type: "del", sublevel: this.#active, key: activation.msisdn },
    ];
    const history = this.#historyAfter(activation, reason, options.sum, now);
    if (history) ops.push({ type: "put", sublevel: this.#historyStore, key: historyKey(history.msisdn, history.service), value: history });
    await this.#deps.store.batch(ops);
    if (history) this.#pool.setHistory(history);
    this.#pool.unmarkActive(activation);
    this.#pool.rememberFinished(finished);
    this.#metrics.finished.inc({ marketplace, reason });
    this.#log.info({ activationId, marketplace, msisdn: activation.msisdn, service: activation.service, status, reason }, "activation finished");
    this.#deps.bus.emit("activation.finished", { activationId, marketplace, msisdn: activation.msisdn, service: activation.service, status, reason });
    return { found: true, activation: finished, alreadyFinished: false };
  }

  /** sold → spent for the service; refused → never again for it; cancelled → one more cancellation; others → nothing. */
  #historyAfter(activation: Activation, reason: FinishReason, sum: number | undefined, now: number): ServiceHistory | undefined {
    if (reason !== "sold" && reason !== "refused" && reason !== "cancelled") return undefined;
    const previous = this.#pool.history(activation.msisdn, activation.service);
    const record: ServiceHistory = previous
      ? { ...previous, updatedAt: now }
      : { msisdn: activation.msisdn, service: activation.service, sold: 0, refused: false, cancellations: 0, updatedAt: now };
    if (reason === "sold") {
      record.sold += 1;
      const price = sum ?? activation.sum;
      if (price !== undefined) record.lastSum = price;
    } else if (reason === "refused") {
      record.refused = true;
    } else {
      record.cancellations += 1;
    }
    return record;
  }

  // ---- the stale safety net ------------------------------------------------

  #scheduleStaleCheck(): void {
    this.#staleTimer = setTimeout(() => {
      void this.#sweepStale().finally(() => {
        if (this.#started) this.#scheduleStaleCheck();
      });
    }, this.#config.staleCheckSeconds * 1000);
    this.#staleTimer.unref();
  }

  async #sweepStale(): Promise<void> {
    const cutoff = Date.now() - this.#config.staleActivationHours * 3_600_000;
    for (const activation of this.#pool.activeList()) {
      if (activation.createdAt > cutoff) continue;
      try {
        const result = await this.finish(activation.marketplace, activation.activationId, 0, "stale");
        if (result.found && !result.alreadyFinished) {
          this.#metrics.stale.inc({ marketplace: activation.marketplace });
          this.#log.warn(
            { activationId: activation.activationId, marketplace: activation.marketplace, msisdn: activation.msisdn, service: activation.service, hours: this.#config.staleActivationHours },
            "activation never finished by the marketplace; released by the stale safety net",
          );
        }
      } catch (error) {
        this.#log.error({ err: error, activationId: activation.activationId }, "could not release a stale activation");
      }
    }
  }

  // ---- queries --------------------------------------------------------------

  async get(activationId: number): Promise<Activation | undefined> {
    return this.#pool.activeById(activationId) ?? (await this.#activations.get(activationKey(activationId)));
  }

  async listRecent(limit: number, filter: { marketplace?: string; state?: ActivationState } = {}): Promise<Activation[]> {
    const result: Activation[] = [];
    for await (const activation of this.#activations.values({ reverse: true })) {
      if (filter.marketplace !== undefined && activation.marketplace !== filter.marketplace) continue;
      if (filter.state !== undefined && activation.state !== filter.state) continue;
      result.push(activation);
      if (result.length >= limit) break;
    }
    return result;
  }

  // ---- marketplaces and routing ---------------------------------------------

  registerMarketplace<P>(marketplace: string, sink: MarketplaceSink<P>): OutboxHandle {
    const existing = this.#marketplaces.get(marketplace);
    if (existing) void existing.outbox.stop();
    const outbox: Outbox<P> = new Outbox<P>({
      store: this.#deps.store,
      bus: this.#deps.bus,
      log: this.#log,
      marketplace,
      sink,
      metrics: this.#metrics,
      onStop: () => {
        if (this.#marketplaces.get(marketplace) === entry) this.#marketplaces.delete(marketplace);
      },
    });
    const entry: Marketplace = { sink: sink as MarketplaceSink<unknown>, outbox: outbox as Outbox<unknown> };
    this.#marketplaces.set(marketplace, entry);
    this.#deps.store.registerPruner(`outbox:${marketplace}`, (cutoff) => outbox.prune(cutoff));
    // Messages that waited for this marketplace are routed now.
    if (this.#started) void this.#router.routePending();
    return outbox;
  }

  outboxStats(): Record<string, OutboxStats> {
    const stats: Record<string, OutboxStats> = {};
    for (const [marketplace, { outbox }] of this.#marketplaces) stats[marketplace] = outbox.stats();
    return stats;
  }

  routePending(): Promise<void> {
    return this.#router.routePending();
  }

  /** Retention: finished activations finished before `cutoff`; the newest activation always stays (it carries the id high-water mark). */
  #prune(cutoff: number): Promise<number> {
    const newest = this.#counter;
    return this.#deps.store.deleteWhere(this.#activations, {}, (activation) => {
      const gone = activation.state === "finished" && (activation.finishedAt ?? 0) < cutoff && activation.activationId !== newest;
      if (gone) this.#pool.forgetFinished(activation);
      return gone;
    });
  }
}
