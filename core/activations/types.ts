/**
 * The marketplace-neutral activations API: numbers, reservations, per-service
 * history and the routing of an SMS to its activation. Onlinesim uses it
 * first; SMSHub or SMSBower plugins would share the same SIM pool through it.
 */
import type { SmsMessage } from "../types.ts";

/** A request for a number, as a marketplace plugin translates it. */
export interface NumberRequest {
  /** The plugin asking (its name); activations belong to it. */
  marketplace: string;
  service: string;
  /** Marketplace country name; undefined matches every country. */
  country?: string;
  /** Marketplace operator name; undefined or "any" matches every operator. */
  operator?: string;
  /**
   * Prefixes of numbers (country code included) never to be issued for this
   * request, as the marketplace sent them (strings or integers, `+`, spaces
   * and dashes allowed). Core normalises them (exceptions.ts) and applies them
   * itself, whatever plugins run; numberFilter hooks see them normalised.
   */
  exceptionPrefixes: readonly (string | number)[];
  /** Price offered, recorded with the activation. */
  sum?: number;
}

export type ActivationState = "active" | "finished";

/** How an activation ended. */
export type FinishReason = "refused" | "sold" | "cancelled" | "refunded" | "closed" | "stale";

export interface Activation {
  /** Positive, unique, increasing; never reused, across restarts too. */
  activationId: number;
  marketplace: string;
  msisdn: string;
  iccid: string;
  imei?: string;
  country: string;
  operator: string;
  service: string;
  sum?: number;
  state: ActivationState;
  createdAt: number;
  finishedAt?: number;
  /** The marketplace's status code as received (e.g. Onlinesim 1/3/4/5). */
  finishStatus?: number;
  finishReason?: FinishReason;
}

/**
 * The operator key under which counts() puts SIMs whose operator is not known
 * (core/modems says "unknown"): they may be issued only when any operator
 * will do, so a marketplace adds them to its all-operators figure and names
 * no operator for them. Also what a request's `operator` says for "any".
 */
export const ANY_OPERATOR = "any";

/**
 * country → operator → service → count. Only known countries appear (a SIM of
 * unknown country is not offered); operator `ANY_OPERATOR` holds the SIMs of
 * unknown operator. Summing over operators is the marketplace's business.
 */
export type CountTree = Map<string, Map<string, Map<string, number>>>;

export type FinishResult =
  | { found: false }
  | { found: true; activation: Activation; alreadyFinished: boolean };

/** One durable push job in a marketplace's outbox. */
export interface PushJob<P = unknown> {
  jobId: string;
  marketplace: string;
  activationId: number;
  messageId: string;
  payload: P;
  createdAt: number;
  state: "pending" | "done" | "given-up";
  attempts: number;
  /** Due: `retryIntervalMs` after the last attempt started. */
  nextAttemptAt: number;
  /** When the last attempt started. */
  lastAttemptAt?: number;
  /** Short description of the partner's last answer (status line / error code), never the SMS text. */
  lastAnswer?: string;
  stopReason?: string;
  doneAt?: number;
}

export type DeliveryResult =
  | { outcome: "done"; answer: string }
  | { outcome: "retry"; answer: string }
  | { outcome: "stop"; reason: string; answer: string };

/** What a marketplace plugin supplies so core can route SMS to it and keep its outbox. */
export interface MarketplaceSink<P> {
  /** The job body for a forwarded SMS; stored with the message's new state in one synced batch. */
  buildPayload(message: SmsMessage, activation: Activation): P;
  /** One delivery attempt; must not throw (a throw counts as retry). */
  deliver(job: PushJob<P>): Promise<DeliveryResult>;
  retryIntervalMs: number;
  /** Deliveries in flight at once. */
  concurrency: number;
}

export interface OutboxStats {
  pending: number;
  oldestPendingAt?: number;
  givenUp: number;
  delivered: number;
}

export interface OutboxHandle {
  stats(): OutboxStats;
  /** Resolves once the jobs left on disk by an earlier run are loaded and scheduled. */
  ready(): Promise<void>;
  list(filter?: { activationId?: number; messageId?: string }): Promise<PushJob[]>;
  /** Stops delivering (in-flight attempts finish); jobs stay on disk. */
  stop(): Promise<void>;
}

export interface ActivationsApi {
  /** Numbers GET_NUMBER would really hand out now, per country/operator/service. Synchronous, from memory. */
  counts(marketplace: string, services: readonly string[]): CountTree;
  /** Atomic: concurrent calls never get the same number; null when none fits. */
  reserve(request: NumberRequest): Promise<Activation | null>;
  finish(marketplace: string, activationId: number, status: number, reason: FinishReason, options?: { sum?: number }): Promise<FinishResult>;
  get(activationId: number): Promise<Activation | undefined>;
  listRecent(limit: number, filter?: { marketplace?: string; state?: ActivationState }): Promise<Activation[]>;
  /** Route forwarded SMS of this marketplace's activations into its durable outbox. */
  registerMarketplace<P>(marketplace: string, sink: MarketplaceSink<P>): OutboxHandle;
  /**
   * Read-only, from memory: each registered marketplace's outbox figures, keyed
   * by marketplace. Jobs left on disk by an earlier run count once that outbox
   * has loaded them (OutboxHandle.ready()).
   */
  outboxStats(): Record<string, OutboxStats>;
}

/** Per number (msisdn) and service: what the marketplaces reported about it. */
export interface ServiceHistory {
  msisdn: string;
  service: string;
  /** Times the number was sold for the service (FINISH 3): spent for it. */
  sold: number;
  /** The marketplace asked never to offer it again for the service (FINISH 1). */
  refused: boolean;
  /** Cancellations (FINISH 4); at `cancelLimit` the number is no longer offered for the service. */
  cancellations: number;
  /** The price of the last sale, when the marketplace gave it. */
  lastSum?: number;
  updatedAt: number;
}

/** The core `activations:` config section. */
export interface ActivationsConfig {
  /** Activations older than this are finished with reason "stale" (a safety net, logged and counted). */
  staleActivationHours: number;
  /** Cancellations per number and service after which the number is no longer offered for it. */
  cancelLimit: number;
  /** How often the stale safety net looks. */
  staleCheckSeconds: number;
}

/** What the hub holds: the API plugins see, plus the lifecycle. */
export interface ActivationsService extends ActivationsApi {
  /** Loads the in-memory index, routes messages left pending, starts the stale check. */
  start(): Promise<void>;
  /** Stops routing, the stale check and every outbox (jobs stay on disk). */
  stop(): Promise<void>;
  /** History of one number for one service, from memory. */
  history(msisdn: string, service: string): ServiceHistory | undefined;
  /** Routes every message still in `messages-pending` (at start, and when a marketplace registers). */
  routePending(): Promise<void>;
}
