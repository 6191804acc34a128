import type { Logger } from "../../core/log.ts";

export interface StaleTopicsOptions {
  /** True when something still publishes on `topic` (the publisher holds it, or its modem is known). */
  isCurrent(topic: string): boolean;
  /** Clears `topic` (an empty retained payload). */
  clear(topic: string): void;
  log: Logger;
}

/**
 * Clears this hub's retained topics that nothing publishes any more: the state
 * and Home Assistant configs of a modem that went away while the hub was down
 * (a modem removed while the hub runs gets `modem.removed` and is cleared
 * then). zigbee2mqtt's way: the broker's retained copies of the hub's own
 * topics come back through a subscription, and the ones nothing publishes are
 * cleared, but only once the modem layer has had its chance to find the
 * modems: `graceMs` after the hub started (modems.absentSeconds' counterpart).
 * Until then they are only noted.
 */
export class StaleTopics {
  readonly #options: StaleTopicsOptions;
  readonly #noted = new Set<string>();
  #settled = false;
  #timer: NodeJS.Timeout | undefined;

  constructor(options: StaleTopicsOptions) {
    this.#options = options;
  }

  /** A message on one of the hub's own retained topics. */
  seen(topic: string, payload: Buffer, retained: boolean): void {
    if (payload.length === 0) {
      this.#noted.delete(topic);
      return;
    }
    if (!retained) return; // live: something publishes it now
    if (this.#settled) this.#check(topic);
    else this.#noted.add(topic);
  }

  /** The hub has started: the modems get `graceMs` to be found, then what is stale is cleared. */
  hubStarted(graceMs: number): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.#settle(), graceMs);
    this.#timer.unref();
  }

  #settle(): void {
    this.#settled = true;
    for (const topic of this.#noted) this.#check(topic);
    this.#noted.clear();
  }

  #check(topic: string): void {
    if (this.#options.isCurrent(topic)) return;
    this.#options.log.info({ topic }, "cleared a retained topic of a modem this hub no longer has");
    this.#options.clear(topic);
  }

  stop(): void {
    clearTimeout(this.#timer);
  }
}
