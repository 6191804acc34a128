import assert from "node:assert/strict";
import { test } from "node:test";
import { Ajv } from "ajv";
import { silentLogger } from "../../../core/log.ts";
import plugin from "../../../plugins/mqtt-telemetry/index.ts";
import { Publisher, reconnectDelay } from "../../../plugins/mqtt-telemetry/publisher.ts";
import { assertPublishTopic } from "../../../plugins/mqtt-telemetry/topics.ts";

test("publish refuses wildcards, empty levels and control characters", async () => {
  for (const topic of ["simhive/+/status", "simhive/#", "#", "", "simhive//status", "simhive/status/", "simhive/\u0000x"]) {
    assert.throws(() => assertPublishTopic(topic), { code: "SIMHIVE_ERR_MQTT_TOPIC" }, JSON.stringify(topic));
  }
  assert.doesNotThrow(() => assertPublishTopic("simhive/hub-1/modems/356938035643809"));

  // Every way of publishing checks, connected or not (never started here).
  const publisher = new Publisher({ url: "mqtt://127.0.0.1:1", clientOptions: {}, statusTopic: "simhive/h/status", reconnectMaxMs: 1_000, refusedRetryMs: 600_000, log: silentLogger() });
  assert.throws(() => publisher.retain("simhive/+/x", "{}"), { code: "SIMHIVE_ERR_MQTT_TOPIC" });
  assert.throws(() => publisher.event("simhive/#", "{}"), { code: "SIMHIVE_ERR_MQTT_TOPIC" });
  assert.throws(() => publisher.volatile("simhive/+", "{}"), { code: "SIMHIVE_ERR_MQTT_TOPIC" });
  assert.deepEqual(publisher.held, { retainedTopics: 0, deletions: 0, events: 0, droppedEvents: 0, inFlight: 0, unacked: 0 });
  await publisher.stop();
});

test("reconnect backoff doubles from 1 s and stops at the cap", () => {
  assert.deepEqual(
    [0, 1, 2, 3, 4, 5, 6, 7, 50, Number.MAX_SAFE_INTEGER].map((attempt) => reconnectDelay(attempt, 60_000)),
    [1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000, 60_000, 60_000],
  );
  assert.equal(reconnectDelay(3, 5_000), 5_000);
});

test("config schema: defaults applied, wildcard topics and unknown keys refused", () => {
  const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: false });
  const validate = ajv.compile(plugin.configSchema);
  const section: Record<string, unknown> = { url: "mqtt://localhost:1883" };
  assert.equal(validate(section), true, JSON.stringify(validate.errors));
  assert.deepEqual(section, {
    url: "mqtt://localhost:1883",
    baseTopic: "simhive",
    statsSeconds: 30,
    includeText: false,
    homeassistant: false,
    homeassistantPrefix: "homeassistant",
    commands: false,
    keepaliveSeconds: 30,
    reconnectMaxSeconds: 60,
    refusedRetrySeconds: 600,
    staleAfterSeconds: 120,
  });
  assert.equal(validate({ url: "mqtt://localhost", tls: { ca: "/etc/ssl/ca.pem", rejectUnauthorized: false }, username: "u", password: "p" }), true);
  for (const bad of [
    { url: "http://localhost" },
    { url: "mqtt://localhost", baseTopic: "simhive/#" },
    { url: "mqtt://localhost", baseTopic: "a/+/b" },
    { url: "mqtt://localhost", homeassistantPrefix: "home/assistant" },
    { url: "mqtt://localhost", statsSeconds: 0 },
    { url: "mqtt://localhost", tls: { pem: "x" } },
    { url: "mqtt://localhost", includeTxt: true },
    {},
  ]) {
    assert.equal(validate(bad), false, JSON.stringify(bad));
  }
});
