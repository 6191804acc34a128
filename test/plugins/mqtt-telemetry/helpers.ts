/**
 * A real broker for the suite (aedes in-process, or MQTT_URL when set, e.g.
 * mosquitto in CI), a TCP gate in front of it to take it "down" and "up"
 * again, a watching subscriber, and a minimal hub running the plugin through
 * PluginHost with a real Store.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, connect as tcpConnect, type Server, type Socket } from "node:net";
import { createServer as createTlsServer } from "node:tls";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before } from "node:test";
import { Aedes, type AedesOptions } from "aedes";
import { connect, type IClientOptions, type MqttClient } from "mqtt";
import { Registry } from "prom-client";
import type { ActivationsApi, Activation, OutboxStats } from "../../../core/activations/types.ts";
import { EventBus } from "../../../core/bus.ts";
import { createHooks } from "../../../core/hooks.ts";
import { silentLogger, type Logger } from "../../../core/log.ts";
import { PluginHost } from "../../../core/plugins.ts";
import { Store } from "../../../core/store/store.ts";
import type { ModemInfo, ModemsView, NumberInfo, NumbersView } from "../../../core/types.ts";
import plugin from "../../../plugins/mqtt-telemetry/index.ts";

export const HANG_GUARD_MS = 20_000;

/** Unique per call: topic bases, hub ids and HA prefixes never collide on a shared broker. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${process.pid}-${randomBytes(4).toString("hex")}`;
}

export interface Broker {
  url: string;
  port: number;
  host: string;
  external: boolean;
  close(): Promise<void>;
}

/** An aedes broker on a real TCP port (0 = any free port), optionally over TLS and with its own authenticate. */
export async function startAedes(port = 0, options: { tls?: { key: Buffer; cert: Buffer }; aedes?: AedesOptions } = {}): Promise<Broker> {
  const aedes = await Aedes.createBroker(options.aedes);
  const sockets = new Set<Socket>();
  const accept = (socket: Socket): void => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {});
    aedes.handle(socket);
  };
  const server: Server = options.tls ? createTlsServer(options.tls, accept) : createServer(accept);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve());
  });
  const address = server.address() as { port: number };
  return {
    url: `${options.tls ? "mqtts" : "mqtt"}://127.0.0.1:${address.port}`,
    port: address.port,
    host: "127.0.0.1",
    external: false,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => aedes.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * The broker under test for one file's tests: started before them, closed
 * after them. Its fields are read when a test runs (the broker exists only
 * from `before` on).
 */
export function brokerForSuite(): Broker {
  let broker: Broker | undefined;
  before(async () => {
    broker = await brokerUnderTest();
  });
  after(async () => {
    await broker?.close();
  });
  const current = (): Broker => {
    if (!broker) throw new Error("the suite's broker starts in before(): read it inside a test");
    return broker;
  };
  return {
    get url() {
      return current().url;
    },
    get port() {
      return current().port;
    },
    get host() {
      return current().host;
    },
    get external() {
      return current().external;
    },
    close: () => current().close(),
  };
}

/** The broker under test: MQTT_URL when set, else a fresh aedes. */
export async function brokerUnderTest(): Promise<Broker> {
  const external = process.env.MQTT_URL;
  if (!external) return startAedes();
  const parsed = new URL(external);
  return { url: external, host: parsed.hostname, port: Number(parsed.port || 1883), external: true, close: async () => {} };
}

/**
 * How a TcpGate forwards an open connection:
 * - "open": both ways;
 * - "acksDropped": the broker's PUBACKs are dropped (a broker that never
 *   acknowledges), everything else passes;
 * - "stalled": nothing the client sends reaches the broker (a dead link that
 *   TCP has not noticed yet). Cut the connection after a stall: bytes are
 *   lost, so the MQTT stream is not usable again.
 */
export type GateMode = "open" | "acksDropped" | "stalled";

const PUBACK = 4;

/** Splits a byte stream into whole MQTT control packets (fixed header + remaining length). */
export class MqttFrames {
  #buffer = Buffer.alloc(0);

  push(chunk: Buffer): Buffer[] {
    this.#buffer = Buffer.concat([this.#buffer, chunk]);
    const packets: Buffer[] = [];
    for (;;) {
      let length = 0;
      let multiplier = 1;
      let offset = 1;
      let complete = false;
      while (offset < this.#buffer.length && offset <= 4) {
        const byte = this.#buffer[offset] as number;
        length += (byte & 0x7f) * multiplier;
        multiplier *= 128;
        offset += 1;
        if ((byte & 0x80) === 0) {
          complete = true;
          break;
        }
      }
      if (!complete || this.#buffer.length < offset + length) return packets;
      packets.push(this.#buffer.subarray(0, offset + length));
      this.#buffer = this.#buffer.subarray(offset + length);
    }
  }
}

/**
 * A TCP forwarder to a broker. `down()` closes the port and cuts every
 * connection (the plugin sees the broker vanish); `up()` listens on the same
 * port again; `cut()` cuts the connections and keeps listening; `mode`
 * changes how open connections forward (see GateMode). Works in front of any
 * broker.
 */
export class TcpGate {
  readonly #target: { host: string; port: number };
  readonly #sockets = new Set<Socket>();
  #server: Server | undefined;
  port = 0;
  mode: GateMode = "open";
  /** Connections accepted so far. */
  accepted = 0;

  constructor(target: { host: string; port: number }) {
    this.#target = target;
  }

  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`;
  }

  /** Reserves a free port without listening on it (the broker starts "down"). */
  async reservePort(): Promise<void> {
    await this.up();
    await this.down();
  }

  async up(): Promise<void> {
    const server = createServer((inbound) => {
      this.accepted += 1;
      const outbound = tcpConnect(this.#target.port, this.#target.host);
      for (const socket of [inbound, outbound]) {
        this.#sockets.add(socket);
        socket.on("close", () => this.#sockets.delete(socket));
        socket.on("error", () => {});
      }
      const fromBroker = new MqttFrames();
      inbound.on("data", (chunk: Buffer) => {
        if (this.mode !== "stalled") outbound.write(chunk);
      });
      outbound.on("data", (chunk: Buffer) => {
        for (const packet of fromBroker.push(chunk)) {
          const type = (packet[0] as number) >> 4;
          if (!(this.mode === "acksDropped" && type === PUBACK)) inbound.write(packet);
        }
      });
      inbound.on("close", () => outbound.destroy());
      outbound.on("close", () => inbound.destroy());
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.port, "127.0.0.1", () => resolve());
    });
    this.port = (server.address() as { port: number }).port;
    this.#server = server;
  }

  /** Cuts every open connection; the port stays open, so clients can reconnect. */
  cut(): void {
    for (const socket of this.#sockets) socket.destroy();
  }

  async down(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    this.cut();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

/** A port that accepts TCP connections and never answers (a broker that hangs before CONNACK). */
export class BlackHole {
  readonly #sockets = new Set<Socket>();
  readonly #server: Server;
  accepted = 0;

  constructor() {
    this.#server = createServer((socket) => {
      this.accepted += 1;
      this.#sockets.add(socket);
      socket.on("close", () => this.#sockets.delete(socket));
      socket.on("error", () => {});
    });
  }

  static async open(): Promise<BlackHole> {
    const hole = new BlackHole();
    await hole.#listen();
    return hole;
  }

  async #listen(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once("error", reject);
      this.#server.listen(0, "127.0.0.1", () => resolve());
    });
  }

  get url(): string {
    return `mqtt://127.0.0.1:${(this.#server.address() as { port: number }).port}`;
  }

  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

export interface Received {
  topic: string;
  payload: string;
  retain: boolean;
}

/** A subscriber that records everything on its filters. */
export class Watcher {
  readonly client: MqttClient;
  readonly messages: Received[] = [];
  readonly #waiters = new Set<() => void>();

  private constructor(client: MqttClient) {
    this.client = client;
    client.on("message", (topic, payload, packet) => {
      this.messages.push({ topic, payload: payload.toString("utf8"), retain: packet.retain });
      for (const waiter of this.#waiters) waiter();
    });
  }

  static async open(url: string, filters: string[], options: IClientOptions = {}): Promise<Watcher> {
    const client = connect(url, { clientId: uniqueName("watch"), reconnectPeriod: 200, clean: true, ...options });
    client.on("error", () => {});
    await new Promise<void>((resolve, reject) => {
      client.once("connect", () => resolve());
      client.once("error", reject);
    });
    const watcher = new Watcher(client);
    await client.subscribeAsync(filters, { qos: 1 });
    return watcher;
  }

  /** Resolves with the first recorded message (past or future) matching; rejects after the hang guard. */
  waitFor(match: (message: Received) => boolean, what: string, timeoutMs = HANG_GUARD_MS): Promise<Received> {
    const found = this.messages.find(match);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const hit = this.messages.find(match);
        if (!hit) return;
        cleanup();
        resolve(hit);
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`timed out waiting for ${what}; saw ${this.messages.map((m) => m.topic).join(", ")}`));
      }, timeoutMs);
      const cleanup = (): void => {
        clearTimeout(timer);
        this.#waiters.delete(check);
      };
      this.#waiters.add(check);
    });
  }

  /** Waits for a message on `topic` whose payload satisfies `match`. */
  waitOn(topic: string, match: (payload: string) => boolean = () => true, what = topic): Promise<Received> {
    return this.waitFor((m) => m.topic === topic && match(m.payload), what);
  }

  /**
   * A round trip through the broker on `topic` (which must match one of the
   * filters): everything the broker had queued for us before it is recorded.
   */
  async sync(topic: string): Promise<void> {
    const payload = randomBytes(6).toString("hex");
    const seen = this.waitOn(topic, (p) => p === payload, `sync marker on ${topic}`);
    await this.client.publishAsync(topic, payload, { qos: 1 });
    await seen;
  }

  on(topic: string): Received[] {
    return this.messages.filter((m) => m.topic === topic);
  }

  async close(): Promise<void> {
    await this.client.endAsync(true);
  }
}

/**
 * What the broker retains now under `filters` (empty payloads left out), as a
 * subscriber that comes late sees it: `syncTopic` must match one of the filters.
 */
export async function retainedNow(url: string, filters: string[], syncTopic: string): Promise<Received[]> {
  const late = await Watcher.open(url, filters);
  try {
    await late.sync(syncTopic);
    return late.messages.filter((m) => m.retain && m.payload.length > 0);
  } finally {
    await late.close();
  }
}

/** Removes every retained message under the filters (run at the end of each test). */
export async function clearRetained(url: string, filters: string[]): Promise<void> {
  const client = connect(url, { clientId: uniqueName("clean"), reconnectPeriod: 0, clean: true });
  client.on("error", () => {});
  await new Promise<void>((resolve, reject) => {
    client.once("connect", () => resolve());
    client.once("error", reject);
  });
  const topics = new Set<string>();
  client.on("message", (topic, payload, packet) => {
    if (packet.retain && payload.length > 0) topics.add(topic);
  });
  await client.subscribeAsync(filters, { qos: 1 });
  // Retained messages arrive right after SUBACK; a round trip on a private topic marks their end.
  const marker = `${filters[0]?.replace(/[#+].*$/, "") ?? ""}cleanup-marker-${randomBytes(3).toString("hex")}`;
  await client.subscribeAsync(marker, { qos: 1 });
  await new Promise<void>((resolve) => {
    client.on("message", (topic) => topic === marker && resolve());
    void client.publishAsync(marker, "x", { qos: 1 });
  });
  for (const topic of topics) await client.publishAsync(topic, "", { qos: 1, retain: true });
  await client.endAsync();
}

export interface FakeModems extends ModemsView {
  byImei: Map<string, ModemInfo>;
  calls: { imei: string; action: string }[];
  failWith?: Error;
}

export function fakeModems(modems: ModemInfo[] = []): FakeModems {
  const view: FakeModems = {
    byImei: new Map(modems.map((m) => [m.imei as string, m])),
    calls: [],
    list: () => [...view.byImei.values()],
    get: (imei) => view.byImei.get(imei),
    command: async (imei, action) => {
      view.calls.push({ imei, action });
      if (view.failWith) throw view.failWith;
    },
  };
  return view;
}

export function fakeNumbers(numbers: NumberInfo[] = []): NumbersView {
  return { list: () => numbers, byMsisdn: (msisdn) => numbers.find((n) => n.msisdn === msisdn) };
}

/**
 * An ActivationsApi that only serves as a data source: `active` is what
 * listRecent returns for state "active", `outbox` what outboxStats returns
 * (the same object: a test may change it).
 */
export function fakeActivations(active: Activation[] = [], outbox: Record<string, OutboxStats> = {}): ActivationsApi {
  return {
    counts: () => new Map(),
    reserve: async () => null,
    finish: async () => ({ found: false }),
    get: async (activationId) => active.find((a) => a.activationId === activationId),
    listRecent: async (limit, filter) => active.filter((a) => !filter?.state || a.state === filter.state).slice(0, limit),
    registerMarketplace: () => {
      throw new Error("not used by mqtt-telemetry");
    },
    outboxStats: () => outbox,
  };
}

export function modem(imei: string, overrides: Partial<ModemInfo> = {}): ModemInfo {
  return {
    port: `/dev/serial/by-path/platform-usb-0:1.${imei.slice(-1)}:1.0-port0`,
    imei,
    imsi: "250011234567890",
    iccid: `8970101${imei.slice(-8)}`,
    msisdn: `7916${imei.slice(-7)}`,
    country: "russia",
    operator: "mts",
    state: "ready",
    signalDbm: -71,
    registration: "home",
    storageUsed: 2,
    storageTotal: 30,
    lastSmsAt: Date.UTC(2025, 0, 2, 3, 4, 5),
    reconnects: 1,
    updatedAt: Date.now(),
    ...overrides,
  };
}

/** The value of a gauge without labels, read the way a scrape reads it. */
export async function gaugeValue(metrics: Registry, name: string): Promise<number | undefined> {
  return (await metrics.getSingleMetric(name)?.get())?.values[0]?.value;
}

export interface TestHub {
  hubId: string;
  bus: EventBus;
  host: PluginHost;
  modems: FakeModems;
  metrics: Registry;
  stop(): Promise<void>;
}

/** A minimal hub: real Store in a temp dir, bus, hooks, metrics, and the plugin started by PluginHost. */
export async function startHub(options: {
  config: Record<string, unknown>;
  hubId?: string;
  modems?: FakeModems;
  numbers?: NumbersView;
  activations?: ActivationsApi;
  /** Default: silent. */
  log?: Logger;
}): Promise<TestHub> {
  const log = options.log ?? silentLogger();
  const dataDir = await mkdtemp(join(tmpdir(), "simhive-mqtt-"));
  const store = await Store.open(dataDir, log);
  const bus = new EventBus(log);
  const hubId = options.hubId ?? uniqueName("hub");
  const modems = options.modems ?? fakeModems();
  const metrics = new Registry();
  const host = new PluginHost({
    log,
    bus,
    store,
    hooks: createHooks(log),
    hub: { id: hubId, version: "0.1.0-test", dataDir },
    modems,
    numbers: options.numbers ?? fakeNumbers(),
    activations: options.activations ?? fakeActivations(),
    metrics,
  });
  await host.startAll([plugin], { "mqtt-telemetry": { enabled: true, ...options.config } });
  return {
    hubId,
    bus,
    host,
    modems,
    metrics,
    stop: async () => {
      await host.stopAll();
      await store.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
