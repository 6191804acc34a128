import type { EventBus } from "../bus.ts";
import type { Hooks } from "../hooks.ts";
import type { Logger } from "../log.ts";
import type { MessageRepository } from "../store/messages.ts";
import type { BatchOp, Store } from "../store/store.ts";
import type { MessageRoute, SmsMessage } from "../types.ts";
import type { ActivationsMetrics } from "./metrics.ts";
import type { Outbox } from "./outbox.ts";
import type { NumberPool } from "./pool.ts";
import type { Activation, MarketplaceSink } from "./types.ts";

export interface Marketplace {
  sink: MarketplaceSink<unknown>;
  outbox: Outbox<unknown>;
}

export interface SmsRouterDeps {
  store: Store;
  messages: MessageRepository;
  pool: NumberPool;
  hooks: Hooks;
  bus: EventBus;
  log: Logger;
  metrics: ActivationsMetrics;
  marketplaces: Map<string, Marketplace>;
}

/**
 * Routes whole messages to the active activation on their number, one message
 * at a time (so the `sms.received` event and the start-up scan of
 * `messages-pending` cannot route the same message twice). The message's route
 * and, when forwarded, its push job go to disk in one synced batch. A message
 * whose activation belongs to a marketplace that is not registered (its
 * plugin not running) stays pending until that marketplace registers.
 */
export class SmsRouter {
  readonly #deps: SmsRouterDeps;
  #chain: Promise<void> = Promise.resolve();
  #stopped = false;

  constructor(deps: SmsRouterDeps) {
    this.#deps = deps;
  }

  /** Queues `message` for routing; resolves once it has been considered. */
  route(message: SmsMessage): Promise<void> {
    const next = this.#chain.then(() => (this.#stopped ? undefined : this.#route(message)));
    this.#chain = next.catch((error: unknown) => {
      this.#deps.log.error({ err: error, messageId: message.messageId }, "routing failed; the message stays pending for the next start");
    });
    return this.#chain;
  }

  async routePending(): Promise<void> {
    const pending = await this.#deps.messages.listPending();
    await Promise.all(pending.map((message) => this.route(message)));
  }

  /** Waits for the routing in progress; further messages wait for the next start. */
  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#chain;
  }

  async #route(received: SmsMessage): Promise<void> {
    const { store, messages, pool, hooks, bus, log, metrics, marketplaces } = this.#deps;
    const stored = await messages.get(received.messageId);
    if (stored?.route && stored.route.state !== "pending") return; // already routed
    const message = stored ?? received;
    const now = Date.now();
    const activation = this.#activationFor(message);
    let route: MessageRoute;
    const ops: BatchOp[] = [];
    let job: ReturnType<Marketplace["outbox"]["newJob"]> | undefined;
    let marketplace: Marketplace | undefined;
    if (!activation) {
      const last = pool.lastFinishedFor(message.msisdn, message.iccid);
      route =
        last && last.createdAt <= message.receivedAt
          ? { state: "after-finish", at: now, activationId: last.activationId }
          : { state: "no-activation", at: now };
    } else {
      marketplace = marketplaces.get(activation.marketplace);
      if (!marketplace) {
        log.info({ messageId: message.messageId, activationId: activation.activationId, marketplace: activation.marketplace }, "message waits: its marketplace is not running");
        return;
      }
      const decision = hooks.smsFilter.decide(message, activation);
      const base = { at: now, activationId: activation.activationId, marketplace: activation.marketplace };
      if (decision.action === "forward") {
        route = { state: "forwarded", ...base };
        job = marketplace.outbox.newJob(activation.activationId, message.messageId, marketplace.sink.buildPayload(message, activation), now);
        ops.push(marketplace.outbox.putOp(job));
      } else if (decision.action === "drop") {
        route = { state: "dropped", ...base, reason: decision.reason };
      } else {
        route = { state: "held", ...base, reason: decision.reason };
      }
    }
    ops.unshift(...messages.routeOps(message, route));
    await store.batch(ops);
    if (job && marketplace) marketplace.outbox.enqueue(job);
    metrics.routed.inc({ state: route.state });
    log.info(
      { messageId: message.messageId, iccid: message.iccid, route: route.state, ...("activationId" in route ? { activationId: route.activationId } : {}), ...("reason" in route ? { reason: route.reason } : {}) },
      "message routed",
    );
    bus.emit("sms.routed", { messageId: message.messageId, iccid: message.iccid, route });
  }

  /** The active activation the message belongs to: on its number, and started before the message arrived. */
  #activationFor(message: SmsMessage): Activation | undefined {
    const activation = this.#deps.pool.activeFor(message.msisdn, message.iccid);
    if (!activation || message.receivedAt < activation.createdAt) return undefined;
    return activation;
  }
}
