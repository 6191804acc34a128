import type { HubEvents } from "../../core/bus.ts";
import { SimhiveError } from "../../core/errors.ts";
import type { PluginContext, PluginDefinition, PluginInstance } from "../../core/plugins.ts";
import type { ModemInfo } from "../../core/types.ts";
import { handleCommand } from "./commands.ts";
import { configSchema, withDefaults, type MqttTelemetryConfig } from "./config.ts";
import { clientOptions, CONNECTION_KEYS } from "./connection.ts";
import { Discovery } from "./discovery.ts";
import { registerMetrics } from "./metrics.ts";
import { modemPayload, StatsCollector } from "./payloads.ts";
import { Publisher } from "./publisher.ts";
import { StaleTopics } from "./stale.ts";
import { assertPublishTopic, isTopicSafeImei, topicsFor } from "./topics.ts";

type EventPayload = Record<string, unknown> & { event: string };

/** Keys a reload cannot apply: they name the topics everything is published on. */
const RESTART_KEYS = ["baseTopic", "homeassistant", "homeassistantPrefix", "commands"] as const;

const changedKeys = <K extends keyof MqttTelemetryConfig>(keys: readonly K[], before: MqttTelemetryConfig, after: MqttTelemetryConfig): K[] =>
  keys.filter((key) => JSON.stringify(before[key]) !== JSON.stringify(after[key]));

function start(ctx: PluginContext<MqttTelemetryConfig>): PluginInstance {
  let config = withDefaults(ctx.config);
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

  const stale = new StaleTopics({
    // A modem's state stays while the hub knows the modem; a discovery config while it is published.
    isCurrent: (topic) => {
      const own = topics.ownRetained(topic);
      return publisher.holds(topic) || (own?.kind === "modem" && (lastKnown.has(own.imei) || ctx.modems.get(own.imei) !== undefined));
    },
    clear: (topic) => publisher.retain(topic, ""),
    log,
  });

  const onMessage = (topic: string, payload: Buffer, retained: boolean): void => {
    if (topics.ownRetained(topic)) {
      stale.seen(topic, payload, retained);
      return;
    }
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
    refusedRetryMs: config.refusedRetrySeconds * 1000,
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
  for (const filter of topics.ownRetainedFilters) publisher.subscribe(filter);
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
  ctx.bus.on("hub.started", () => stale.hubStarted(config.staleAfterSeconds * 1000));
  // SIGHUP: the operator may have fixed the broker's side (its password file) without touching ours.
  ctx.bus.on("config.reloaded", () => {
    if (publisher.refused) publisher.retryNow();
  });

  let timer = setInterval(publishStats, config.statsSeconds * 1000);
  timer.unref();
  const unregisterMetrics = registerMetrics(ctx.metrics, publisher);

  return {
    /** Connection settings, retry times, statsSeconds, staleAfterSeconds and includeText apply at once; the topic keys need a restart. */
    reload(section: MqttTelemetryConfig) {
      const next = withDefaults(section);
      const fixed = changedKeys(RESTART_KEYS, config, next);
      if (fixed.length > 0) {
        throw new SimhiveError("SIMHIVE_ERR_CONFIG", `${fixed.map((key) => `plugins.mqtt-telemetry.${key}`).join(", ")}: a change here needs a restart of the hub`);
      }
      const reconnect = changedKeys(CONNECTION_KEYS, config, next).length > 0;
      const options = reconnect ? { url: next.url, clientOptions: clientOptions(next, ctx.hub.id) } : {};
      const statsChanged = next.statsSeconds !== config.statsSeconds;
      config = next;
      publisher.reconfigure({ ...options, reconnectMaxMs: next.reconnectMaxSeconds * 1000, refusedRetryMs: next.refusedRetrySeconds * 1000 });
      if (statsChanged) {
        clearInterval(timer);
        timer = setInterval(publishStats, next.statsSeconds * 1000);
        timer.unref();
      }
    },
    async stop() {
      clearInterval(timer);
      stale.stop();
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
