import type { EventBus } from "../bus.ts";
import type { Logger } from "../log.ts";
import type { BatchOp, Store, Sublevel } from "../store/store.ts";
import type { DeliveryResult, MarketplaceSink, OutboxHandle, OutboxStats, PushJob } from "./types.ts";
import type { ActivationsMetrics } from "./metrics.ts";

export interface OutboxDeps<P> {
  store: Store;
  bus: EventBus;
  log: Logger;
  marketplace: string;
  sink: MarketplaceSink<P>;
  metrics: ActivationsMetrics;
  /** How long stop() waits for attempts in flight before returning. */
  stopWaitMs?: number;
  /** A job still pending after this long is reported once with a warning (default 10 minutes). */
  pendingWarnMs?: number;
  /** Called once when the outbox is stopped (the marketplace unregisters). */
  onStop?: () => void;
}

/** The outbox of one marketplace lives in that plugin's namespace: `plugin:<name>:outbox`. */
export function outboxSublevel(store: Store, marketplace: string): Sublevel<PushJob> {
  return store.sub<PushJob>(`plugin:${marketplace}:outbox`);
}

/**
 * A marketplace's durable outbox. A job is on disk (written in the same synced
 * batch as its message's route) before its first attempt; every attempt's
 * outcome is written before the next; the sink's "done" or "stop" ends it,
 * anything else retries `retryIntervalMs` after the previous attempt started,
 * for as long as it takes and across restarts (pending jobs are loaded again
 * at start); a job pending longer than `pendingWarnMs` is logged once. At most
 * `concurrency` deliveries are in flight, so a backlog of ten thousand jobs
 * opens `concurrency` sockets, not ten thousand.
 */
export class Outbox<P = unknown> implements OutboxHandle {
  readonly marketplace: string;
  readonly sublevel: Sublevel<PushJob>;
  readonly #deps: OutboxDeps<P>;
  /** Pending jobs not in flight, sorted by nextAttemptAt. */
  #queue: PushJob<P>[] = [];
  readonly #inFlight = new Map<string, Promise<void>>();
  readonly #inFlightJobs = new Map<string, PushJob<P>>();
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;
  #delivered = 0;
  #givenUp = 0;
  /** Jobs already reported as pending too long (once each per run). */
  readonly #warnedPending = new Set<string>();
  readonly #pendingWarnMs: number;
  readonly #loaded: Promise<void>;

  constructor(deps: OutboxDeps<P>) {
    this.#deps = deps;
    this.#pendingWarnMs = deps.pendingWarnMs ?? 10 * 60_000;
    this.marketplace = deps.marketplace;
    this.sublevel = outboxSublevel(deps.store, deps.marketplace);
    this.#loaded = this.#load().catch((error: unknown) => {
      deps.log.error({ err: error, marketplace: deps.marketplace }, "could not load the outbox; pending jobs wait for the next start");
    });
  }

  /** A new job for a forwarded message; its key is the message id, so a message is pushed at most once per marketplace. */
  newJob(activationId: number, messageId: string, payload: P, now = Date.now()): PushJob<P> {
    return {
      jobId: messageId,
      marketplace: this.marketplace,
      activationId,
      messageId,
      payload,
      createdAt: now,
      state: "pending",
      attempts: 0,
      nextAttemptAt: now,
    };
  }

  putOp(job: PushJob<P>): BatchOp {
    return { type: "put", sublevel: this.sublevel, key: job.jobId, value: job };
  }

  /** Schedules a job that is already on disk. */
  enqueue(job: PushJob<P>): void {
    if (this.#stopped || job.state !== "pending") return;
    if (this.#inFlight.has(job.jobId) || this.#queue.some((queued) => queued.jobId === job.jobId)) return;
    this.#insert(job);
    this.#pump();
  }

  ready(): Promise<void> {
    return this.#loaded;
  }

  stats(): OutboxStats {
    let oldestPendingAt: number | undefined;
    for (const job of [...this.#queue, ...this.#inFlightJobs.values()]) {
      if (oldestPendingAt === undefined || job.createdAt < oldestPendingAt) oldestPendingAt = job.createdAt;
    }
    return {
      pending: this.#queue.length + this.#inFlightJobs.size,
      ...(oldestPendingAt === undefined ? {} : { oldestPendingAt }),
      givenUp: this.#givenUp,
      delivered: this.#delivered,
    };
  }

  async list(filter: { activationId?: number; messageId?: string } = {}): Promise<PushJob[]> {
    if (filter.messageId !== undefined) {
      const job = await this.sublevel.get(filter.messageId);
      return job && (filter.activationId === undefined || job.activationId === filter.activationId) ? [job] : [];
    }
    const jobs: PushJob[] = [];
    for await (const job of this.sublevel.values()) {
      if (filter.activationId === undefined || job.activationId === filter.activationId) jobs.push(job);
    }
    return jobs;
  }

  async stop(): Promise<void> {
    if (!this.#stopped) this.#deps.onStop?.();
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#loaded;
    const waitMs = this.#deps.stopWaitMs ?? 3_000;
    let timer: NodeJS.Timeout | undefined;
    const waited = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, waitMs);
      timer.unref();
    });
    await Promise.race([Promise.allSettled([...this.#inFlight.values()]), waited]);
    clearTimeout(timer);
  }

  /** Retention: finished jobs (done or given up) created before `cutoff`. Pending jobs stay. */
  prune(cutoff: number): Promise<number> {
    return this.#deps.store.deleteWhere(this.sublevel, {}, (job) => job.state !== "pending" && job.createdAt < cutoff);
  }

  async #load(): Promise<void> {
    const pending: PushJob<P>[] = [];
    for await (const job of this.sublevel.values()) {
      if (job.state === "pending") pending.push(job as PushJob<P>);
      else if (job.state === "done") this.#delivered++;
      else this.#givenUp++;
    }
    if (pending.length > 0) this.#deps.log.info({ marketplace: this.marketplace, pending: pending.length }, "outbox: resuming pending push jobs");
    for (const job of pending) {
      if (!this.#stopped && !this.#inFlight.has(job.jobId) && !this.#queue.some((queued) => queued.jobId === job.jobId)) this.#insert(job);
    }
    this.#pump();
  }

  #insert(job: PushJob<P>): void {
    // Binary search: retries are appended in time order, so this is nearly always the end.
    let low = 0;
    let high = this.#queue.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if ((this.#queue[middle] as PushJob<P>).nextAttemptAt <= job.nextAttemptAt) low = middle + 1;
      else high = middle;
    }
    this.#queue.splice(low, 0, job);
  }

  #pump(): void {
    if (this.#stopped) return;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    const now = Date.now();
    const concurrency = Math.max(1, this.#deps.sink.concurrency);
    while (this.#inFlight.size < concurrency && this.#queue.length > 0 && (this.#queue[0] as PushJob<P>).nextAttemptAt <= now) {
      const job = this.#queue.shift() as PushJob<P>;
      this.#inFlightJobs.set(job.jobId, job);
      const attempt = this.#attempt(job).finally(() => {
        this.#inFlight.delete(job.jobId);
        this.#inFlightJobs.delete(job.jobId);
        this.#pump();
      });
      this.#inFlight.set(job.jobId, attempt);
    }
    const next = this.#queue[0];
    if (next && this.#inFlight.size < concurrency) {
      this.#timer = setTimeout(() => this.#pump(), Math.max(0, next.nextAttemptAt - now));
      this.#timer.unref?.();
    }
  }

  async #attempt(job: PushJob<P>): Promise<void> {
    const { sink, log, metrics, bus, store } = this.#deps;
    // The retry interval counts from the start of an attempt: a partner that
    // hangs until the timeout is asked again every interval, not every interval + timeout.
    const startedAt = Date.now();
    let result: DeliveryResult;
    try {
      result = await sink.deliver(job);
    } catch (error) {
      result = { outcome: "retry", answer: "exception" };
      log.warn({ err: error, marketplace: this.marketplace, activationId: job.activationId }, "push sink threw; will retry");
    }
    const now = Date.now();
    const answer = result.answer.slice(0, 60);
    const updated: PushJob<P> = { ...job, attempts: job.attempts + 1, lastAnswer: answer, lastAttemptAt: startedAt };
    if (result.outcome === "done") {
      updated.state = "done";
      updated.doneAt = now;
    } else if (result.outcome === "stop") {
      updated.state = "given-up";
      updated.stopReason = result.reason;
      updated.doneAt = now;
    } else {
      updated.nextAttemptAt = startedAt + sink.retryIntervalMs;
    }
    metrics.pushAttempts.inc({ marketplace: this.marketplace, answer, outcome: result.outcome });
    try {
      await store.batch([this.putOp(updated)]);
    } catch (error) {
      log.error({ err: error, marketplace: this.marketplace, activationId: job.activationId }, "outbox: could not record a push attempt");
    }
    this.#inFlightJobs.delete(job.jobId);
    const context = { marketplace: this.marketplace, activationId: job.activationId, messageId: job.messageId, attempts: updated.attempts };
    if (updated.state !== "pending") this.#warnedPending.delete(job.jobId);
    if (updated.state === "done") {
      this.#delivered++;
      log.info({ ...context, answer }, "push delivered");
      bus.emit("push.delivered", context);
    } else if (updated.state === "given-up") {
      this.#givenUp++;
      metrics.pushGivenUp.inc({ marketplace: this.marketplace, reason: result.outcome === "stop" ? result.reason : "" });
      log.warn({ ...context, reason: updated.stopReason, answer }, "push stopped by the partner's answer");
      bus.emit("push.gaveUp", { ...context, reason: updated.stopReason ?? answer });
    } else {
      if (updated.attempts === 1 || updated.attempts % 10 === 0) log.warn({ ...context, answer }, "push not accepted; retrying");
      const pendingMs = now - job.createdAt;
      if (pendingMs > this.#pendingWarnMs && !this.#warnedPending.has(job.jobId)) {
        this.#warnedPending.add(job.jobId);
        log.warn(
          { ...context, answer, pendingMinutes: Math.floor(pendingMs / 60_000) },
          `push pending for more than ${Math.round(this.#pendingWarnMs / 60_000)} minutes: the partner has not accepted it yet (see its answers with simhive sms)`,
        );
      }
      if (!this.#stopped) this.#insert(updated);
    }
  }
}
