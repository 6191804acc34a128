import { connect, type IClientOptions, type MqttClient } from "mqtt";
import type { Logger } from "../../core/log.ts";

/** Non-retained QoS 1 messages kept while the broker is away; older ones are dropped. */
export const EVENT_QUEUE_LIMIT = 200;
/** Publishes awaiting the broker's ack beyond which new ones wait as if offline. */
const MAX_IN_FLIGHT = 500;
const RECONNECT_MIN_MS = 1_000;

export interface PublisherOptions {
  url: string;
  clientOptions: IClientOptions;
  /** The status topic: its last will is `offline`, `online` is published on every connect. */
  statusTopic: string;
  reconnectMaxMs: number;
  log: Logger;
  /** Called after every (re)connect, once status and retained state are replayed. */
  onConnect?: () => void;
  onMessage?: (topic: string, payload: Buffer) => void;
}

interface Outgoing {
  topic: string;
  payload: string;
  qos: 0 | 1;
  retain: boolean;
}

/** The wait before reconnect attempt `attempt` (0-based): 1 s, 2 s, 4 s ... capped at `capMs`. */
export function reconnectDelay(attempt: number, capMs: number): number {
  return Math.min(capMs, RECONNECT_MIN_MS * 2 ** Math.min(Math.max(attempt, 0), 30));
}

export class TopicError extends Error {
  readonly code = "SIMHIVE_ERR_MQTT_TOPIC";
}

/** Throws on a topic a publisher must never use: wildcards, empty levels, control characters. */
export function assertPublishTopic(topic: string): void {
  const hasControl = [...topic].some((char) => char.charCodeAt(0) < 0x20);
  if (topic.length === 0 || hasControl || /[#+]/.test(topic) || topic.split("/").some((level) => level.length === 0)) {
    throw new TopicError(`refusing to publish on ${JSON.stringify(topic)}: wildcards, empty levels and control characters are not allowed`);
  }
}

/**
 * One MQTT connection that never makes its callers wait and never grows while
 * the broker is away:
 * - retained topics are kept as "latest value per topic" and replayed on every
 *   connect (a broker that restarted without persistence gets them back);
 * - QoS 1 events wait in a bounded queue, oldest dropped first;
 * - QoS 0 messages (stats, command answers) are dropped while offline;
 * - mqtt.js's own offline queue is not used (`queueQoSZero: false`, nothing is
 *   handed to the client while disconnected, and `reconnect()` starts with
 *   fresh stores).
 * Reconnects follow a capped exponential backoff, reset on success.
 */
export class Publisher {
  readonly #options: PublisherOptions;
  readonly #retained = new Map<string, Outgoing>();
  readonly #deletions = new Set<string>();
  /** Retained topics changed while the in-flight cap held them back. */
  readonly #dirty = new Set<string>();
  #events: Outgoing[] = [];
  #droppedEvents = 0;
  #inFlight = 0;
  #client: MqttClient | undefined;
  #subscriptions = new Set<string>();
  #attempt = 0;
  #reconnectTimer: NodeJS.Timeout | undefined;
  #stopping = false;
  #connected = false;

  constructor(options: PublisherOptions) {
    this.#options = options;
  }

  get connected(): boolean {
    return this.#connected;
  }

  /** Counts for diagnostics: what is held while the broker is away. */
  get held(): { retainedTopics: number; deletions: number; events: number; droppedEvents: number; inFlight: number } {
    return {
      retainedTopics: this.#retained.size,
      deletions: this.#deletions.size,
      events: this.#events.length,
      droppedEvents: this.#droppedEvents,
      inFlight: this.#inFlight,
    };
  }

  /** Starts connecting in the background; returns at once. */
  start(): void {
    const { clientOptions, statusTopic } = this.#options;
    const client = connect(this.#options.url, {
      ...clientOptions,
      reconnectPeriod: 0,
      connectTimeout: 10_000,
      queueQoSZero: false,
      clean: true,
      resubscribe: false,
      will: { topic: statusTopic, payload: Buffer.from("offline"), qos: 1, retain: true },
    });
    this.#client = client;
    client.on("connect", () => this.#onConnect());
    client.on("close", () => this.#onClose());
    client.on("message", (topic, payload) => this.#options.onMessage?.(topic, payload));
    client.on("error", (error) => {
      const code = (error as { code?: unknown }).code;
      // 4/5 (3.1.1) and 134/135 (v5): credentials or ACL; retried, but at the cap.
      const refused = code === 4 || code === 5 || code === 134 || code === 135;
      if (refused) this.#attempt = Number.MAX_SAFE_INTEGER;
      this.#options.log[refused ? "error" : "warn"]({ err: error, code }, refused ? "MQTT broker refused the credentials" : "MQTT connection error");
    });
  }

  #onConnect(): void {
    const client = this.#client;
    if (!client) return;
    this.#connected = true;
    this.#attempt = 0;
    this.#options.log.info({ url: redactUrl(this.#options.url) }, "MQTT connected");
    if (this.#subscriptions.size > 0) client.subscribe([...this.#subscriptions], { qos: 1 });
    this.#send({ topic: this.#options.statusTopic, payload: "online", qos: 1, retain: true });
    this.#flush();
    this.#options.onConnect?.();
  }

  #onClose(): void {
    const wasConnected = this.#connected;
    this.#connected = false;
    this.#inFlight = 0;
    if (this.#stopping) return;
    if (wasConnected) this.#options.log.warn("MQTT connection lost; reconnecting");
    if (this.#reconnectTimer) return;
    const delay = reconnectDelay(this.#attempt, this.#options.reconnectMaxMs);
    this.#attempt = Math.min(this.#attempt + 1, Number.MAX_SAFE_INTEGER);
    this.#reconnectTimer = setTimeout(() => {
      this.#reconnectTimer = undefined;
      if (!this.#stopping) this.#client?.reconnect();
    }, delay);
    this.#reconnectTimer.unref();
  }

  /** Retained, latest value wins; an empty payload removes the retained message. */
  retain(topic: string, payload: string, qos: 0 | 1 = 1): void {
    assertPublishTopic(topic);
    const message: Outgoing = { topic, payload, qos, retain: true };
    if (payload === "") {
      this.#retained.delete(topic);
      this.#deletions.add(topic);
    } else {
      this.#deletions.delete(topic);
      const previous = this.#retained.get(topic);
      this.#retained.set(topic, message);
      if (previous && previous.payload === payload && previous.qos === qos) return;
    }
    if (this.#canSend()) this.#send(message);
    else this.#dirty.add(topic);
  }

  /** Not retained, QoS 1: queued (bounded) while offline. */
  event(topic: string, payload: string): void {
    assertPublishTopic(topic);
    const message: Outgoing = { topic, payload, qos: 1, retain: false };
    if (this.#canSend()) {
      this.#send(message);
      return;
    }
    this.#events.push(message);
    if (this.#events.length > EVENT_QUEUE_LIMIT) {
      this.#events.shift();
      this.#droppedEvents += 1;
    }
  }

  /** Not retained: sent only when connected, dropped otherwise. */
  volatile(topic: string, payload: string, qos: 0 | 1 = 0): void {
    assertPublishTopic(topic);
    if (this.#canSend()) this.#send({ topic, payload, qos, retain: false });
  }

  /** Sends every retained value again (Home Assistant came back online). */
  republishRetained(): void {
    if (!this.#canSend()) return;
    for (const message of this.#retained.values()) this.#send(message);
  }

  subscribe(topic: string): void {
    this.#subscriptions.add(topic);
    if (this.#connected) this.#client?.subscribe(topic, { qos: 1 });
  }

  #canSend(): boolean {
    return this.#connected && this.#inFlight < MAX_IN_FLIGHT;
  }

  /** On connect: every retained value and deletion, then the queued events. */
  #flush(): void {
    this.#dirty.clear();
    for (const topic of this.#deletions) this.#send({ topic, payload: "", qos: 1, retain: true });
    for (const message of this.#retained.values()) this.#send(message);
    this.#sendQueuedEvents();
  }

  /** After the in-flight cap was hit: only what changed meanwhile. */
  #flushBacklog(): void {
    const topics = [...this.#dirty];
    this.#dirty.clear();
    for (const topic of topics) {
      const message = this.#retained.get(topic);
      if (message) this.#send(message);
      else if (this.#deletions.has(topic)) this.#send({ topic, payload: "", qos: 1, retain: true });
    }
    this.#sendQueuedEvents();
  }

  #sendQueuedEvents(): void {
    const events = this.#events;
    this.#events = [];
    for (const message of events) this.#send(message);
  }

  #send(message: Outgoing): void {
    const client = this.#client;
    if (!client) return;
    this.#inFlight += 1;
    client.publish(message.topic, message.payload, { qos: message.qos, retain: message.retain }, (error) => {
      this.#inFlight = Math.max(0, this.#inFlight - 1);
      if (!error && message.retain && message.payload === "") this.#deletions.delete(message.topic);
      // After a burst that hit the in-flight cap, send what changed meanwhile.
      if (!error && this.#inFlight === 0 && this.#connected && this.#backlog) {
        this.#backlog = false;
        this.#flushBacklog();
      }
    });
    if (this.#inFlight >= MAX_IN_FLIGHT) this.#backlog = true;
  }

  #backlog = false;

  /** Publishes `offline` (a clean stop is not a crash, but the hub is gone) and disconnects, bounded by `timeoutMs`. */
  async stop(timeoutMs = 2_000): Promise<void> {
    this.#stopping = true;
    clearTimeout(this.#reconnectTimer);
    this.#reconnectTimer = undefined;
    const client = this.#client;
    if (!client) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => client.end(true, () => resolve()), timeoutMs);
      const end = (): void => {
        clearTimeout(timer);
        client.end(false, () => resolve());
      };
      if (this.#connected) {
        client.publish(this.#options.statusTopic, "offline", { qos: 1, retain: true }, end);
      } else {
        clearTimeout(timer);
        client.end(true, () => resolve());
      }
    });
    this.#connected = false;
  }
}

/** The URL without its password, for logs. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = "hidden";
    return parsed.toString();
  } catch {
    return "(invalid url)";
  }
}
