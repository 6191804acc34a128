import type { Logger } from "./log.ts";
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

/**
 * Hooks are registered per owner (a plugin's name) and leave with it.
 * Semantics, shared by every marketplace plugin:
 * - numberFilter: every hook must return true; a hook that throws counts as a
 *   deny and is logged (the number is not issued rather than issued wrongly).
 * - smsFilter: hooks run in registration order; the first decision other than
 *   forward wins. A hook that throws holds the SMS (reason
 *   `hook-error:<owner>`): it stays stored, visible to the operator, and is
 *   neither pushed nor thrown away.
 */
class HookRegistry<F> {
  protected entries: Entry<F>[] = [];
  protected readonly log: Logger;
  readonly #name: string;

  constructor(name: string, log: Logger) {
    this.#name = name;
    this.log = log;
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
  }

  get size(): number {
    return this.entries.length;
  }

  protected failed(owner: string, error: unknown): void {
    this.log.error({ hook: this.#name, owner, err: error }, "hook threw; counted as deny");
  }
}

export class NumberFilterRegistry extends HookRegistry<NumberFilter> {
  constructor(log: Logger) {
    super("numberFilter", log);
  }

  allows(candidate: NumberInfo, request: NumberRequest): boolean {
    for (const { owner, fn } of this.entries) {
      try {
        if (!fn(candidate, request)) return false;
      } catch (error) {
        this.failed(owner, error);
        return false;
      }
    }
    return true;
  }
}

export class SmsFilterRegistry extends HookRegistry<SmsFilter> {
  constructor(log: Logger) {
    super("smsFilter", log);
  }

  decide(message: SmsMessage, activation: Activation): SmsDecision {
    for (const { owner, fn } of this.entries) {
      try {
        const decision = fn(message, activation);
        if (decision.action !== "forward") return decision;
      } catch (error) {
        this.failed(owner, error);
        return { action: "hold", reason: `hook-error:${owner}` };
      }
    }
    return { action: "forward" };
  }
}

export interface Hooks {
  numberFilter: NumberFilterRegistry;
  smsFilter: SmsFilterRegistry;
}

export function createHooks(log: Logger): Hooks {
  return { numberFilter: new NumberFilterRegistry(log), smsFilter: new SmsFilterRegistry(log) };
}
