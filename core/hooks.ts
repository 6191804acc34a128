import type { Counter, Registry } from "prom-client";
import type { Logger } from "./log.ts";
import { counter } from "./metrics.ts";
import type { Activation, NumberRequest } from "./activations/types.ts";
import type { NumberInfo, SmsMessage } from "./types.ts";

/**
 * May `candidate` be issued for `request`? Synchronous on purpose: GET_SERVICES
 * evaluates it for every number × service, so it must not wait on I/O.
 */
export type NumberFilter = (candidate: NumberInfo, request: NumberRequest) => boolean;

export type SmsDecision =
  | { action: "forward" }
  | { action: "drop"; reason: string }
  | { action: "hold"; reason: string };

/** Forward, drop or hold an SMS that arrived on a number with an active activation. */
export type SmsFilter = (message: SmsMessage, activation: Activation) => SmsDecision;

interface Entry<F> {
  owner: string;
  fn: F;
}

export interface HookOptions {
  /** Where `simhive_hook_failures_total` is registered. */
  metrics?: Registry;
  /** The clock of the once-a-minute reminder (tests give their own). */
  now?: () => number;
}

/** A hook that keeps failing is logged again at most this often. */
const REMIND_MS = 60_000;

/** Per owner: failing since when, failures since the last line, the time of that line. */
interface Failing {
  failures: number;
  unlogged: number;
  loggedAt: number;
}

/**
 * Hooks are registered per owner (a plugin's name) and leave with it.
 * Semantics, shared by every marketplace plugin:
 * - numberFilter: every hook must return true; a hook that throws counts as a
 *   deny (the number is not issued rather than issued wrongly).
 * - smsFilter: hooks run in registration order; the first decision other than
 *   forward wins. A hook that throws holds the SMS (reason
 *   `hook-error:<owner>`): it stays stored, visible to the operator, and is
 *   neither pushed nor thrown away.
 * A throwing hook is logged on its first failure, then at most once a minute
 * while it keeps failing, and once when it works again; GET_SERVICES calls a
 * numberFilter for every number × service, so a line per call would flood the
 * log. Every failure is counted in `simhive_hook_failures_total`.
 */
class HookRegistry<F> {
  protected entries: Entry<F>[] = [];
  protected readonly log: Logger;
  readonly #name: string;
  readonly #failing = new Map<string, Failing>();
  readonly #now: () => number;
  readonly #counted?: Counter<"hook" | "owner">;

  constructor(name: string, log: Logger, options: HookOptions = {}) {
    this.#name = name;
    this.log = log;
    this.#now = options.now ?? Date.now;
    if (options.metrics) this.#counted = counter(options.metrics, "simhive_hook_failures_total", "Hook calls that threw, by hook and owner", ["hook", "owner"]);
  }

  register(owner: string, fn: F): () => void {
    const entry = { owner, fn };
    this.entries = [...this.entries, entry];
    return () => {
      this.entries = this.entries.filter((e) => e !== entry);
    };
  }

  removeOwner(owner: string): void {
    this.entries = this.entries.filter((e) => e.owner !== owner);
    this.#failing.delete(owner);
  }

  get size(): number {
    return this.entries.length;
  }

  protected failed(owner: string, error: unknown, message: string): void {
    this.#counted?.inc({ hook: this.#name, owner });
    const now = this.#now();
    const failing = this.#failing.get(owner);
    if (!failing) {
      this.#failing.set(owner, { failures: 1, unlogged: 0, loggedAt: now });
      this.log.error({ hook: this.#name, owner, err: error }, message);
      return;
    }
    failing.failures++;
    if (now - failing.loggedAt < REMIND_MS) {
      failing.unlogged++;
      return;
    }
    this.log.error({ hook: this.#name, owner, err: error, failures: failing.failures, unlogged: failing.unlogged }, `${message} (still failing)`);
    failing.unlogged = 0;
    failing.loggedAt = now;
  }

  protected succeeded(owner: string): void {
    const failing = this.#failing.get(owner);
    if (!failing) return;
    this.#failing.delete(owner);
    this.log.info({ hook: this.#name, owner, failures: failing.failures }, "hook works again");
  }
}

export class NumberFilterRegistry extends HookRegistry<NumberFilter> {
  constructor(log: Logger, options?: HookOptions) {
    super("numberFilter", log, options);
  }

  allows(candidate: NumberInfo, request: NumberRequest): boolean {
    for (const { owner, fn } of this.entries) {
      let allowed: boolean;
      try {
        allowed = fn(candidate, request);
      } catch (error) {
        this.failed(owner, error, "hook threw; counted as deny");
        return false;
      }
      this.succeeded(owner);
      if (!allowed) return false;
    }
    return true;
  }
}

export class SmsFilterRegistry extends HookRegistry<SmsFilter> {
  constructor(log: Logger, options?: HookOptions) {
    super("smsFilter", log, options);
  }

  decide(message: SmsMessage, activation: Activation): SmsDecision {
    for (const { owner, fn } of this.entries) {
      let decision: SmsDecision;
      try {
        decision = fn(message, activation);
      } catch (error) {
        this.failed(owner, error, "hook threw; the SMS is held");
        return { action: "hold", reason: `hook-error:${owner}` };
      }
      this.succeeded(owner);
      if (decision.action !== "forward") return decision;
    }
    return { action: "forward" };
  }
}

export interface Hooks {
  numberFilter: NumberFilterRegistry;
  smsFilter: SmsFilterRegistry;
}

export function createHooks(log: Logger, options: HookOptions = {}): Hooks {
  return { numberFilter: new NumberFilterRegistry(log, options), smsFilter: new SmsFilterRegistry(log, options) };
}
