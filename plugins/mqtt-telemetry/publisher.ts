import { connect, type IClientOptions, type MqttClient } from "mqtt";
import type { Logger } from "../../core/log.ts";
import { assertPublishTopic } from "./topics.ts";

/** Non-retained QoS 1 messages kept while the broker is away; older ones are dropped. */
export const EVENT_QUEUE_LIMIT = 200;
/** Publishes awaiting the broker's ack beyond which new ones wait as if offline. */
export const MAX_IN_FLIGHT = 500;
const RECONNECT_MIN_MS = 1_000;
/** CONNACK codes for refused credentials or authorisation: 4/5 (MQTT 3.1.1), 134/135 (MQTT 5). */
const REFUSED_CODES = new Set([4, 5, 134, 135]);

export interface PublisherOptions {
  url: string;
  clientOptions: IClientOptions;
  /** The status topic: its last will is `offline`, `online` is published on every connect. */
  statusTopic: string;
  reconnectMaxMs: number;
  /** The wait before trying again after the broker refused the credentials (a configuration error). */
  refusedRetryMs: number;
  log: Logger;
  /** Called after every (re)connect, once status and retained state are replayed. */
  onConnect?: () => void;
  /** `retained`: the broker sent it from its retained store (on subscribe), not live. */
  onMessage?: (topic: string, payload: Buffer, retained: boolean) => void;
  /** Runs `run` after `delayMs` and returns a cancel; default an unref'd setTimeout (tests pass their own to see the waits). */
  schedule?: (run: () => void, delayMs: number) => () => void;
}

interface Outgoing {
  topic: string;
  payload: string;
  qos: 0 | 1;
  retain: boolean;
  /** Events come back to the queue when their connection dies unacknowledged; retained values are replayed anyway. */
  kind: "retained" | "event" | "volatile";
}

/** The wait before reconnect attempt `attempt` (0-based): 1 s, 2 s, 4 s ... capped at `capMs`. */
export function reconnectDelay(attempt: number, capMs: number): number {
  return Math.min(capMs, RECONNECT_MIN_MS * 2 ** Math.min(Math.max(attempt, 0), 30));
}

const defaultSchedule = (run: () => void, delayMs: number): (() => void) => {
  const timer = setTimeout(run, delayMs);
  timer.unref();
  return () => clearTimeout(timer);
};

/**
 * One MQTT connection that never makes its callers wait and never grows while
 * the broker is away:
 * - retained topics are kept as "latest value per topic" and replayed on every
 *   connect (a broker that restarted without persistence gets them back);
 * - QoS 1 events wait in a bounded queue, oldest dropped first; events a dead
 *   connection never acknowledged come back to that queue;
 * - QoS 0 messages (stats, command answers) are dropped while offline;
 * - mqtt.js keeps nothing across connections: every connection is a client of
 *   its own, ended (`end(true)`, which calls back every unacknowledged publish
 *   with an error) when it closes; its reconnect(), which keeps the old
 *   client's unacknowledged messages for good, is not used, and nothing is
 *   handed to a client while it is disconnected.
 * Reconnects follow a capped exponential backoff, reset on success; refused
 * credentials are a configuration error, retried only every `refusedRetryMs`
 * or when asked (`retryNow`, on a config reload).
 */
export class Publisher {
  readonly #options: PublisherOptions;
  readonly #schedule: NonNullable<PublisherOptions["schedule"]>;
  readonly #retained = new Map<string, Outgoing>();
  readonly #deletions = new Set<string>();
  /** Retained topics changed while the in-flight cap held them back. */
  readonly #dirty = new Set<string>();
  #events: Outgoing[] = [];
  /** Events a closed connection called back unacknowledged, merged into the queue at the front. */
  #returned: Outgoing[] = [];
  #droppedEvents = 0;
  /** Publishes of the current client awaiting their callback. */
  #inFlight = 0;
  #backlog = false;
  #client: MqttClient | undefined;
  #subscriptions = new Set<string>();
  #attempt = 0;
  #cancelRetry: (() => void) | undefined;
  #stopping = false;
  #connected = false;
  /** The CONNACK code while the broker refuses the credentials. */
  #refusedCode: number | undefined;

  constructor(options: PublisherOptions) {
    this.#options = { ...options };
    this.#schedule = options.schedule ?? defaultSchedule;
  }

  get connected(): boolean {
    return this.#connected;
  }

  /** True while the broker refuses the credentials. */
  get refused(): boolean {
    return this.#refusedCode !== undefined;
  }

  /** Counts for diagnostics: what is held while the broker is away, and what mqtt.js holds unacknowledged. */
  get held(): { retainedTopics: number; deletions: number; events: number; droppedEvents: number; inFlight: number; unacked: number } {
    return {
      retainedTopics: this.#retained.size,
      deletions: this.#deletions.size,
      events: this.#events.length + this.#returned.length,
      droppedEvents: this.#droppedEvents,
      inFlight: this.#inFlight,
      unacked: Object.keys(this.#client?.outgoing ?? {}).length,
    };
  }

  /** Starts connecting in the background; returns at once (throws only on a URL mqtt.js cannot use). */
  start(): void {
    this.#connect();
  }

  /** Connects now if a retry is waiting (the operator reloaded the config after fixing the credentials). */
  retryNow(): void {
    if (this.#connected || this.#stopping || !this.#cancelRetry) return;
    this.#cancelRetry();
    this.#cancelRetry = undefined;
    this.#reconnect();
  }

  /**
   * New settings (a config reload). With a new url or client options the
   * current connection is closed and a new one made at once; retry times
   * apply from the next wait.
   */
  reconfigure(settings: Partial<Pick<PublisherOptions, "url" | "clientOptions" | "reconnectMaxMs" | "refusedRetryMs">>): void {
    Object.assign(this.#options, settings);
    if (!("url" in settings || "clientOptions" in settings)) return;
    this.#attempt = 0;
    this.#refusedCode = undefined; // new credentials get a fresh start (and an error of their own if refused)
    this.#cancelRetry?.();
    this.#cancelRetry = undefined;
    const old = this.#client;
    this.#client = undefined;
    this.#connected = false;
    if (!old) {
      this.#reconnect();
      return;
    }
    // The old socket is closed before the new one opens, so its last will cannot follow the new `online`.
    old.end(true, () => {
      this.#takeBackReturned();
      this.#reconnect();
    });
  }

  #connect(): void {
    if (this.#stopping) return;
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
    this.#inFlight = 0;
    this.#backlog = false;
    client.on("connect", () => {
      if (client === this.#client) this.#onConnect(client);
    });
    client.on("close", () => this.#onClose(client));
    client.on("message", (topic, payload, packet) => {
      if (client === this.#client) this.#options.onMessage?.(topic, payload, packet.retain);
    });
    client.on("error", (error) => {
      if (client === this.#client) this.#onError(error);
    });
  }

  /** A connection attempt from a timer: a failure to even create the client is logged and retried at the cap. */
  #reconnect(): void {
    try {
      this.#connect();
    } catch (error) {
      this.#options.log.error({ err: error, url: redactUrl(this.#options.url) }, "MQTT client could not be created");
      this.#scheduleConnect(this.#options.reconnectMaxMs);
    }
  }

  #onError(error: Error): void {
    const code = (error as { code?: unknown }).code;
    if (typeof code === "number" && REFUSED_CODES.has(code)) {
      const first = this.#refusedCode === undefined;
      this.#refusedCode = code;
      const retryInSeconds = Math.round(this.#options.refusedRetryMs / 1000);
      if (first) {
        this.#options.log.error(
          { code, url: redactUrl(this.#options.url), keys: ["plugins.mqtt-telemetry.username", "plugins.mqtt-telemetry.password"], retryInSeconds },
          `MQTT broker refused the credentials: check plugins.mqtt-telemetry.username and plugins.mqtt-telemetry.password; retrying every ${retryInSeconds} s and on a config reload (SIGHUP)`,
        );
      } else {
        this.#options.log.warn({ code, retryInSeconds }, "MQTT broker still refuses the credentials");
      }
      return;
    }
    this.#options.log.warn({ err: error, code }, "MQTT connection error");
  }

  #onConnect(client: MqttClient): void {
    this.#connected = true;
    this.#attempt = 0;
    if (this.#refusedCode !== undefined) {
      this.#refusedCode = undefined;
      this.#options.log.info("MQTT broker accepted the credentials");
    }
    this.#options.log.info({ url: redactUrl(this.#options.url) }, "MQTT connected");
    if (this.#subscriptions.size > 0) client.subscribe([...this.#subscriptions], { qos: 1 });
    this.#send({ topic: this.#options.statusTopic, payload: "online", qos: 1, retain: true, kind: "retained" });
    this.#flush();
    this.#options.onConnect?.();
  }

  #onClose(client: MqttClient): void {
    if (client !== this.#client) return; // replaced (reconfigure) or already handled
    const wasConnected = this.#connected;
    this.#connected = false;
    // Synchronously calls back every publish this connection never got acknowledged.
    client.end(true);
    this.#takeBackReturned();
    if (this.#stopping) return;
    if (wasConnected) this.#options.log.warn("MQTT connection lost; reconnecting");
    const delay = this.#refusedCode !== undefined ? this.#options.refusedRetryMs : reconnectDelay(this.#attempt, this.#options.reconnectMaxMs);
    this.#attempt = Math.min(this.#attempt + 1, 64);
    this.#scheduleConnect(delay);
  }

  #scheduleConnect(delayMs: number): void {
    this.#cancelRetry?.();
    this.#cancelRetry = this.#schedule(() => {
      this.#cancelRetry = undefined;
      if (!this.#stopping) this.#reconnect();
    }, delayMs);
  }

  /** Retained, latest value wins; an empty payload removes the retained message. */
  retain(topic: string, payload: string, qos: 0 | 1 = 1): void {
    assertPublishTopic(topic);
    const message: Outgoing = { topic, payload, qos, retain: true, kind: "retained" };
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

  /** True when `topic` is one of the retained topics this publisher keeps (and replays). */
  holds(topic: string): boolean {
    return this.#retained.has(topic);
  }

  /** Not retained, QoS 1: queued (bounded) while offline. */
  event(topic: string, payload: string): void {
    assertPublishTopic(topic);
    const message: Outgoing = { topic, payload, qos: 1, retain: false, kind: "event" };
    if (this.#canSend()) {
      this.#send(message);
      return;
    }
    this.#events.push(message);
    this.#trimEvents();
  }

  /** Not retained: sent only when connected, dropped otherwise. */
  volatile(topic: string, payload: string, qos: 0 | 1 = 0): void {
    assertPublishTopic(topic);
    if (this.#canSend()) this.#send({ topic, payload, qos, retain: false, kind: "volatile" });
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

  #trimEvents(): void {
    const excess = this.#events.length - EVENT_QUEUE_LIMIT;
    if (excess <= 0) return;
    this.#events.splice(0, excess);
    this.#droppedEvents += excess;
  }

  /** Events a closed connection called back unacknowledged go back to the queue, ahead of the newer ones. */
  #takeBackReturned(): void {
    if (this.#returned.length === 0) return;
    this.#events = [...this.#returned, ...this.#events];
    this.#returned = [];
    this.#trimEvents();
  }

  /** On connect: every retained value and deletion, then the queued events. */
  #flush(): void {
    this.#dirty.clear();
    for (const topic of this.#deletions) this.#send({ topic, payload: "", qos: 1, retain: true, kind: "retained" });
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
      else if (this.#deletions.has(topic)) this.#send({ topic, payload: "", qos: 1, retain: true, kind: "retained" });
    }
    this.#sendQueuedEvents();
  }

  #sendQueuedEvents(): void {
    this.#takeBackReturned();
    const events = this.#events;
    this.#events = [];
    for (const message of events) this.#send(message);
  }

  #send(message: Outgoing): void {
    const client = this.#client;
    if (!client) return;
    this.#inFlight += 1;
    client.publish(message.topic, message.payload, { qos: message.qos, retain: message.retain }, (error) => {
      const current = client === this.#client;
      if (current) this.#inFlight = Math.max(0, this.#inFlight - 1);
      if (error) {
        if (message.kind === "event") this.#returned.push(message);
        return;
      }
      if (message.retain && message.payload === "") this.#deletions.delete(message.topic);
      // After a burst that hit the in-flight cap, send what changed meanwhile.
      if (current && this.#inFlight === 0 && this.#connected && this.#backlog) {
        this.#backlog = false;
        this.#flushBacklog();
      }
    });
    if (this.#inFlight >= MAX_IN_FLIGHT) this.#backlog = true;
  }

  /** Publishes `offline` (a clean stop is not a crash, but the hub is gone) and disconnects, bounded by `timeoutMs`. */
  async stop(timeoutMs = 2_000): Promise<void> {
    this.#stopping = true;
    this.#cancelRetry?.();
    this.#cancelRetry = undefined;
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
