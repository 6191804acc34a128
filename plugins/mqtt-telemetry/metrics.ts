import type { Registry } from "prom-client";
import { gaugeFrom } from "../../core/metrics.ts";
import type { Publisher } from "./publisher.ts";

/** Gauges read at scrape time; removed on stop so a restarted plugin registers its own. Returns the removal. */
export function registerMetrics(registry: Registry, publisher: Publisher): () => void {
  const gauges: [name: string, help: string, read: () => number][] = [
    ["simhive_mqtt_connected", "1 when mqtt-telemetry is connected to its broker", () => (publisher.connected ? 1 : 0)],
    [
      "simhive_mqtt_credentials_refused",
      "1 while the broker refuses mqtt-telemetry's credentials (plugins.mqtt-telemetry.username/password): a configuration error",
      () => (publisher.refused ? 1 : 0),
    ],
    ["simhive_mqtt_dropped_events", "Events mqtt-telemetry dropped while the broker was away (bounded queue full)", () => publisher.held.droppedEvents],
    ["simhive_mqtt_queued_events", "Events mqtt-telemetry keeps (bounded) until the broker takes them", () => publisher.held.events],
    ["simhive_mqtt_held_retained_topics", "Retained topics mqtt-telemetry keeps (latest value each) to replay on connect", () => publisher.held.retainedTopics],
    ["simhive_mqtt_unacked_messages", "Messages the MQTT client holds awaiting the broker's acknowledgement", () => publisher.held.unacked],
  ];
  for (const [name, help, read] of gauges) {
    registry.removeSingleMetric(name);
    gaugeFrom(registry, name, help, read);
  }
  return () => {
    for (const [name] of gauges) registry.removeSingleMetric(name);
  };
}
