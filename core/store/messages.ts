import type { MessageRoute, SmsMessage } from "../types.ts";
import type { BatchOp, Store, Sublevel } from "./store.ts";

/**
 * Whole messages, keyed by `messageId` (time-ordered), with an index of the
 * ones not yet routed (`messages-pending`). The intake writes a message and its
 * pending entry in the same synced batch that retires its parts; the router
 * writes the route and removes the pending entry in the same batch as the push
 * job. A crash between the two leaves the message pending, and the router
 * picks it up again at start.
 */
export class MessageRepository {
  readonly messages: Sublevel<SmsMessage>;
  readonly pending: Sublevel<number>;
  readonly #store: Store;

  constructor(store: Store) {
    this.#store = store;
    this.messages = store.sub<SmsMessage>("messages");
    this.pending = store.sub<number>("messages-pending");
  }

  /** A time-ordered id: sorts by arrival, unique per fingerprint. */
  static messageId(receivedAt: number, fingerprint: string): string {
    return `${receivedAt.toString().padStart(15, "0")}-${fingerprint.slice(0, 16)}`;
  }

  /** Operations that record a new whole message as pending routing. */
  addOps(message: SmsMessage): BatchOp[] {
    const stored: SmsMessage = { ...message, route: { state: "pending" } };
    return [
      { type: "put", sublevel: this.messages, key: message.messageId, value: stored },
      { type: "put", sublevel: this.pending, key: message.messageId, value: message.receivedAt },
    ];
  }

  /** Operations that record the routing outcome and take the message off the pending index. */
  routeOps(message: SmsMessage, route: MessageRoute): BatchOp[] {
    return [
      { type: "put", sublevel: this.messages, key: message.messageId, value: { ...message, route } },
      { type: "del", sublevel: this.pending, key: message.messageId },
    ];
  }

  get(messageId: string): Promise<SmsMessage | undefined> {
    return this.messages.get(messageId);
  }

  async listPending(): Promise<SmsMessage[]> {
    const result: SmsMessage[] = [];
    for await (const messageId of this.pending.keys()) {
      const message = await this.messages.get(messageId);
      if (message) result.push(message);
    }
    return result;
  }

  /** Newest first. */
  async listRecent(limit: number, filter: (m: SmsMessage) => boolean = () => true): Promise<SmsMessage[]> {
    const result: SmsMessage[] = [];
    for await (const message of this.messages.values({ reverse: true })) {
      if (filter(message)) result.push(message);
      if (result.length >= limit) break;
    }
    return result;
  }

  /** Retention: delete routed messages received before `cutoff`. Pending ones stay. */
  prune(cutoff: number): Promise<number> {
    return this.#store.deleteWhere(this.messages, { lt: MessageRepository.messageId(cutoff, "") }, (message) => message.route?.state !== "pending");
  }
}
