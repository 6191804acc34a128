import type { Logger } from "./log.ts";
import type { ModemInfo, ModemState, SmsMessage } from "./types.ts";

/**
 * Every event on the hub's bus and its payload. Payloads never carry SMS text
 * except `sms.received`'s message, which stays in process; telemetry must not
 * publish it unless configured to.
 */
export interface HubEvents {
  "hub.started": { startedAt: number };
  "hub.stopping": Record<string, never>;
  "config.reloaded": { changedSections: string[] };
  "modem.state": { port: string; imei?: string; iccid?: string; state: ModemState; previous?: ModemState; reason?: string };
  /** Any change to a modem's info (state, signal, storage, number ...). */
  "modem.updated": { modem: ModemInfo };
  /** A modem gone for good (its port disappeared and did not come back). */
  "modem.removed": { port: string; imei?: string };
  "sms.received": { message: SmsMessage };
  "sms.routed": { messageId: string; iccid: string; route: NonNullable<SmsMessage["route"]> };
  "activation.started": { activationId: number; marketplace: string; msisdn: string; service: string };
  "activation.finished": { activationId: number; marketplace: string; msisdn: string; service: string; status: number; reason: string };
  "push.delivered": { marketplace: string; activationId: number; messageId: string; attempts: number };
  "push.gaveUp": { marketplace: string; activationId: number; messageId: string; reason: string; attempts: number };
}

export type HubEventName = keyof HubEvents;
export type Listener<E extends HubEventName> = (payload: HubEvents[E]) => void | Promise<void>;

interface Registration {
  owner: string;
  listener: (payload: unknown) => void | Promise<void>;
}

/**
 * Typed event bus. Listeners are keyed by owner so a plugin's listeners go with
 * it (`removeOwner`), and every listener call is isolated: a throw or a
 * rejected promise is logged with the owner's name and never reaches the
 * emitter or the other listeners (zigbee2mqtt's eventBus habit).
 */
export class EventBus {
  readonly #listeners = new Map<HubEventName, Registration[]>();
  readonly #log: Logger;

  constructor(log: Logger) {
    this.#log = log;
  }

  on<E extends HubEventName>(event: E, owner: string, listener: Listener<E>): () => void {
    const registration: Registration = { owner, listener: listener as Registration["listener"] };
    const list = this.#listeners.get(event) ?? [];
    list.push(registration);
    this.#listeners.set(event, list);
    return () => {
      const current = this.#listeners.get(event);
      if (current) this.#listeners.set(event, current.filter((r) => r !== registration));
    };
  }

  emit<E extends HubEventName>(event: E, payload: HubEvents[E]): void {
    const list = this.#listeners.get(event);
    if (!list) return;
    for (const { owner, listener } of [...list]) {
      try {
        const result = listener(payload);
        if (result && typeof (result as Promise<void>).catch === "function") {
          (result as Promise<void>).catch((error: unknown) => this.#failed(event, owner, error));
        }
      } catch (error) {
        this.#failed(event, owner, error);
      }
    }
  }

  removeOwner(owner: string): void {
    for (const [event, list] of this.#listeners) {
      this.#listeners.set(
        event,
        list.filter((r) => r.owner !== owner),
      );
    }
  }

  listenerCount(event: HubEventName, owner?: string): number {
    const list = this.#listeners.get(event) ?? [];
    return owner === undefined ? list.length : list.filter((r) => r.owner === owner).length;
  }

  /** A view of the bus whose registrations all belong to `owner`. */
  scoped(owner: string): ScopedBus {
    return {
      on: (event, listener) => this.on(event, owner, listener),
      emit: (event, payload) => this.emit(event, payload),
      removeAll: () => this.removeOwner(owner),
    };
  }

  #failed(event: string, owner: string, error: unknown): void {
    this.#log.error({ event, owner, err: error }, "event listener failed");
  }
}

export interface ScopedBus {
  on<E extends HubEventName>(event: E, listener: Listener<E>): () => void;
  emit<E extends HubEventName>(event: E, payload: HubEvents[E]): void;
  removeAll(): void;
}
