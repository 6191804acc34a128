import { readFileSync } from "node:fs";
import type { IClientOptions } from "mqtt";
import { Gauge, type Registry } from "prom-client";
import type { HubEvents } from "../../core/bus.ts";
import { SimhiveError } from "../../core/errors.ts";
import type { PluginContext, PluginDefinition, PluginInstance } from "../../core/plugins.ts";
import type { ModemInfo } from "../../core/types.ts";
import { handleCommand } from "./commands.ts";
import { configSchema, withDefaults, type MqttTelemetryConfig, type TlsConfig } from "./config.ts";
import { Discovery } from "./discovery.ts";
import { modemPayload, StatsCollector } from "./payloads.ts";
import { Publisher } from "./publisher.ts";
import { assertPublishTopic, isTopicSafeImei, topicsFor } from "./topics.ts";

/** A PEM given inline, or read from the path given. */
function pem(value: string | undefined, what: string): Buffer | undefined {
  if (value === undefined) return undefined;
  if (value.includes("-----BEGIN")) return Buffer.from(value);
  try {
    return readFileSync(value);
  } catch (error) {
    throw new SimhiveError("SIMHIVE_ERR_CONFIG", `plugins.mqtt-telemetry.tls.${what}: cannot read ${value}: ${(error as Error).message}`, { cause: error });
  }
}

function clientOptions(config: MqttTelemetryConfig, hubId: string): IClientOptions {
  const tls: TlsConfig = config.tls ?? {};
  return {
    clientId: config.clientId ?? `simhive_${hubId}`,
    keepalive: config.keepaliveSeconds,
    ...(config.username === undefined ? {} : { username: config.username }),
    ...(config.password === undefined ? {} : { password: config.password }),
    ...(tls.ca === undefined ? {} : { ca: pem(tls.ca, "ca") }),
    ...(tls.cert === undefined ? {} : { cert: pem(tls.cert, "cert") }),
    ...(tls.key === undefined ? {} : { key: pem(tls.key, "key") }),
    rejectUnauthorized: tls.rejectUnauthorized ?? true,
  };
}

const METRICS = {
  connected: "simhive_mqtt_connected",
  droppedEvents: "simhive_mqtt_dropped_events",
  heldTopics: "simhive_mqtt_held_retained_topics",
  unacked: "simhive_mqtt_unacked_messages",
  queuedEvents: "simhive_mqtt_queued_events",
} as const;

/** Gauges read at scrape time; removed on stop so a restarted plugin registers its own. */
function registerMetrics(registry: Registry, publisher: Publisher): () => void {
  const gauge = (name: string, help: string, read: () => number): void => {
    registry.removeSingleMetric(name);
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.set(read());
      },
    });
  };
  gauge(METRICS.connected, "1 when mqtt-telemetry is connected to its broker", () => (publisher.connected ? 1 : 0));
  gauge(METRICS.droppedEvents, "Events mqtt-telemetry dropped while the broker was away (bounded queue full)", () => publisher.held.droppedEvents);
  gauge(METRICS.heldTopics, "Retained topics mqtt-telemetry keeps (latest value each) to replay on connect", () => publisher.held.retainedTopics);
  gauge(METRICS.unacked, "Messages the MQTT client holds awaiting the broker's acknowledgement", () => publisher.held.unacked);
  gauge(METRICS.queuedEvents, "Events mqtt-telemetry keeps (bounded) until the broker takes them", () => publisher.held.events);
  return () => {
    for (const name of Object.values(METRICS)) registry.removeSingleMetric(name);
  };
}

type EventPayload = Record<string, unknown> & { event: string };

function start(ctx: PluginContext<MqttTelemetryConfig>): PluginInstance {
  const config = withDefaults(ctx.config);
  const topics = topicsFor(config.baseTopic, ctx.hub.id, config.homeassistantPrefix);
  try {
    assertPublishTopic(topics.status);
  } catch (error) {
    throw new SimhiveError("SIMHIVE_ERR_CONFIG", `plugins.mqtt-telemetry: the hub id and baseTopic must make a valid topic: ${(error as Error).message}`, { cause: error });
  }
  const discovery = config.homeassistant ? new Discovery(topics, ctx.hub) : undefined;
  const stats = new StatsCollector();
  const lastKnown = new Map<string, ModemInfo & { imei: string }>();
  const discovered = new Set<string>();
  const log = ctx.log;

  const publishStats = (): void => {
    if (!publisher.connected) return; // stats are never queued
    stats
      .snapshot(ctx.numbers, ctx.activations, ctx.modems.list())
      .then((snapshot) => publisher.volatile(topics.stats, JSON.stringify(snapshot)))
      .catch((error: unknown) => log.warn({ err: error }, "stats not published"));
  };

  const onMessage = (topic: string, payload: Buffer, _retained: boolean): void => {
    if (discovery && topic === topics.haStatus) {
      if (payload.toString("utf8").trim() === "online") {
        log.info("Home Assistant is online; republishing discovery and states");
        publisher.republishRetained();
        publishStats();
      }
      return;
    }
    const imei = config.commands ? topics.imeiOfSetTopic(topic) : undefined;
    if (imei === undefined) return;
    void handleCommand(ctx.modems, imei, payload).then((response) => {
      log.info({ imei, action: response.data.action, status: response.status }, "modem command over MQTT");
      if (isTopicSafeImei(imei)) publisher.volatile(topics.modemSetResponse(imei), JSON.stringify(response), 1);
    });
  };

  const publisher = new Publisher({
    url: config.url,
    clientOptions: clientOptions(config, ctx.hub.id),
    statusTopic: topics.status,
    reconnectMaxMs: config.reconnectMaxSeconds * 1000,
    refusedRetryMs: 600_000,
    log,
    onConnect: publishStats,
    onMessage,
  });

  const event = (payload: EventPayload): void => {
    publisher.event(topics.events, JSON.stringify({ ...payload, at: new Date().toISOString() }));
  };

  const publishModem = (modem: ModemInfo & { imei: string }): void => {
    lastKnown.set(modem.imei, modem);
    publisher.retain(topics.modem(modem.imei), JSON.stringify(modemPayload(modem)));
    if (discovery && !discovered.has(modem.imei)) {
      discovered.add(modem.imei);
      for (const message of discovery.modemMessages(modem)) publisher.retain(message.topic, JSON.stringify(message.config));
    }
  };

  const onModemState = ({ port, imei, state, previous, reason }: HubEvents["modem.state"]): void => {
    if (!isTopicSafeImei(imei)) return;
    const before = previous ?? lastKnown.get(imei)?.state;
    const current = ctx.modems.get(imei) ?? lastKnown.get(imei);
    const merged = { ...(current ?? { reconnects: 0, updatedAt: Date.now() }), imei, port, state, reason };
    publishModem(merged);
    if (state === "ready" && before !== "ready") event({ event: "modem.up", imei, port, state, previous: before ?? null });
    else if (state !== "ready" && before === "ready") event({ event: "modem.down", imei, port, state, previous: before, reason: reason ?? null });
  };

  const onModemUpdated = ({ modem }: HubEvents["modem.updated"]): void => {
    const imei = modem.imei;
    if (isTopicSafeImei(imei)) publishModem({ ...modem, imei });
  };

  const onModemRemoved = ({ port, imei }: HubEvents["modem.removed"]): void => {
    if (!isTopicSafeImei(imei)) return;
    lastKnown.delete(imei);
    discovered.delete(imei);
    publisher.retain(topics.modem(imei), "");
    if (discovery) for (const topic of discovery.modemTopics(imei)) publisher.retain(topic, "");
    event({ event: "modem.removed", imei, port });
  };

  const onSmsReceived = ({ message }: HubEvents["sms.received"]): void => {
    stats.received += 1;
    event({
      event: "sms.received",
      messageId: message.messageId,
      iccid: message.iccid,
      imei: message.imei ?? null,
      number: message.msisdn ?? null,
      parts: message.parts,
      complete: message.complete,
      receivedAt: new Date(message.receivedAt).toISOString(),
      // The sender can be a person's number and the text holds the code: debug only.
      ...(config.includeText ? { sender: message.sender, text: message.text } : {}),
    });
  };

  // Start: the connection is made in the background; the hub never waits for the broker.
  try {
    publisher.start();
  } catch (error) {
    throw new SimhiveError("SIMHIVE_ERR_CONFIG", `plugins.mqtt-telemetry.url: cannot connect to ${config.url}: ${(error as Error).message}`, { cause: error });
  }
  if (config.commands) publisher.subscribe(topics.modemSetFilter);
  if (discovery) {
    publisher.subscribe(topics.haStatus);
    for (const message of discovery.hubMessages()) publisher.retain(message.topic, JSON.stringify(message.config));
  }
  for (const modem of ctx.modems.list()) {
    const imei = modem.imei;
    if (isTopicSafeImei(imei)) publishModem({ ...modem, imei });
  }

  ctx.bus.on("modem.state", onModemState);
  ctx.bus.on("modem.updated", onModemUpdated);
  ctx.bus.on("modem.removed", onModemRemoved);
  ctx.bus.on("sms.received", onSmsReceived);
  ctx.bus.on("sms.routed", ({ route }) => stats.routed(route));
  ctx.bus.on("activation.started", ({ activationId, marketplace, msisdn, service }) =>
    event({ event: "activation.started", activationId, marketplace, number: msisdn, service }),
  );
  ctx.bus.on("activation.finished", ({ activationId, marketplace, msisdn, service, status, reason }) =>
    event({ event: "activation.finished", activationId, marketplace, number: msisdn, service, status, reason }),
  );
  ctx.bus.on("push.gaveUp", ({ marketplace, activationId, messageId, reason, attempts }) => {
    event({ event: "push.gaveUp", marketplace, activationId, messageId, reason, attempts });
  });

  const timer = setInterval(publishStats, config.statsSeconds * 1000);
  timer.unref();
  const unregisterMetrics = registerMetrics(ctx.metrics, publisher);

  return {
    async stop() {
      clearInterval(timer);
      unregisterMetrics();
      ctx.bus.removeAll();
      await publisher.stop();
    },
  };
}

const plugin: PluginDefinition<MqttTelemetryConfig> = {
  name: "mqtt-telemetry",
  configSchema,
  start,
};

export default plugin;
