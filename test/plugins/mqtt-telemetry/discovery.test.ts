import assert from "node:assert/strict";
import { test } from "node:test";
import { brokerForSuite, clearRetained, fakeModems, modem, startHub, uniqueName, Watcher } from "./helpers.ts";

const broker = brokerForSuite();

const IMEI = "356938035643809";

test("Home Assistant discovery: hub and modem sensors, checked field by field", async () => {
  const base = uniqueName("simhive-test");
  const haPrefix = uniqueName("ha");
  const hub = await startHub({
    config: { url: broker.url, baseTopic: base, homeassistant: true, homeassistantPrefix: haPrefix },
    modems: fakeModems([modem(IMEI)]),
  });
  const node = `simhive_${hub.hubId.replace(/[^a-zA-Z0-9_-]/g, "_")}`;
  const root = `${base}/${hub.hubId}`;
  const watcher = await Watcher.open(broker.url, [`${haPrefix}/#`]);
  try {
    const config = async (objectId: string): Promise<Record<string, unknown>> => {
      const message = await watcher.waitOn(`${haPrefix}/sensor/${node}/${objectId}/config`, (p) => p.length > 0);
      assert.equal(message.retain, true, `${objectId} config is retained`);
      return JSON.parse(message.payload);
    };
    const availability = [{ topic: `${root}/status`, payload_available: "online", payload_not_available: "offline" }];
    const origin = { name: "simhive", sw_version: "0.1.0-test" };
    const hubDevice = { identifiers: [node], name: `simhive ${hub.hubId}`, manufacturer: "simhive", model: "SMS hub", sw_version: "0.1.0-test" };
    const modemDevice = {
      identifiers: [`${node}_modem_${IMEI}`],
      name: `Modem ${IMEI}`,
      manufacturer: "simhive",
      model: "GSM modem",
      serial_number: IMEI,
      via_device: node,
    };

    const available = await config("numbers_available");
    assert.equal(available.name, "Available numbers");
    assert.equal(available.unique_id, `${node}_numbers_available`);
    // Home Assistant 2025.10+ reads default_entity_id (object_id is deprecated there and ignored from 2026.4); older ones read object_id.
    // An entity id is lowercase letters, digits and underscores (what HA's slugify makes of object_id).
    const entityId = (uniqueId: unknown): string => `sensor.${String(uniqueId).toLowerCase().replace(/[^a-z0-9]+/g, "_")}`;
    assert.equal(available.default_entity_id, entityId(`${node}_numbers_available`));
    assert.match(String(available.default_entity_id), /^sensor\.[a-z0-9_]+$/);
    assert.equal(available.object_id, `${node}_numbers_available`);
    assert.equal(available.state_topic, `${root}/stats`);
    assert.equal(available.value_template, "{{ value_json.numbers.available }}");
    assert.equal(available.state_class, "measurement");
    assert.deepEqual(available.device, hubDevice);
    assert.deepEqual(available.origin, origin);
    assert.deepEqual(available.availability, availability);
    assert.equal(available.availability_mode, "all");

    const pending = await config("outbox_pending");
    assert.equal(pending.unique_id, `${node}_outbox_pending`);
    assert.equal(pending.state_topic, `${root}/stats`);
    assert.equal(pending.value_template, "{{ value_json.outbox.pending }}");
    assert.deepEqual(pending.device, hubDevice);
    assert.deepEqual(pending.availability, availability);

    const signal = await config(`modem_${IMEI}_signal`);
    assert.equal(signal.name, "Signal");
    assert.equal(signal.unique_id, `${node}_modem_${IMEI}_signal`);
    assert.equal(signal.state_topic, `${root}/modems/${IMEI}`);
    assert.equal(signal.value_template, "{{ value_json.signal }}");
    assert.equal(signal.device_class, "signal_strength");
    assert.equal(signal.unit_of_measurement, "dBm");
    assert.equal(signal.state_class, "measurement");
    assert.equal(signal.entity_category, "diagnostic");
    assert.deepEqual(signal.device, modemDevice);
    assert.deepEqual(signal.origin, origin);
    assert.deepEqual(signal.availability, availability);

    const state = await config(`modem_${IMEI}_state`);
    assert.equal(state.unique_id, `${node}_modem_${IMEI}_state`);
    assert.equal(state.state_topic, `${root}/modems/${IMEI}`);
    assert.equal(state.value_template, "{{ value_json.state }}");
    assert.deepEqual(state.device, modemDevice);
    assert.deepEqual(state.availability, availability);

    for (const config of [pending, signal, state]) {
      assert.equal(config.default_entity_id, entityId(config.unique_id));
      assert.equal(config.object_id, config.unique_id);
    }
    const uniqueIds = [available, pending, signal, state].map((c) => c.unique_id);
    assert.equal(new Set(uniqueIds).size, uniqueIds.length, "unique_ids are unique");
  } finally {
    await watcher.close();
    await hub.stop();
    await clearRetained(broker.url, [`${base}/#`, `${haPrefix}/#`]);
  }
});

test("a modem gone for good has its discovery configs cleared; a new modem gets its own", async () => {
  const base = uniqueName("simhive-test");
  const haPrefix = uniqueName("ha");
  const modems = fakeModems([modem(IMEI)]);
  const hub = await startHub({ config: { url: broker.url, baseTopic: base, homeassistant: true, homeassistantPrefix: haPrefix }, modems });
  const node = `simhive_${hub.hubId.replace(/[^a-zA-Z0-9_-]/g, "_")}`;
  const watcher = await Watcher.open(broker.url, [`${haPrefix}/#`]);
  try {
    const signalTopic = `${haPrefix}/sensor/${node}/modem_${IMEI}_signal/config`;
    const stateTopic = `${haPrefix}/sensor/${node}/modem_${IMEI}_state/config`;
    await watcher.waitOn(signalTopic, (p) => p.length > 0);
    await watcher.waitOn(stateTopic, (p) => p.length > 0);

    hub.bus.emit("modem.updated", { modem: modem("356938035643817") });
    await watcher.waitOn(`${haPrefix}/sensor/${node}/modem_356938035643817_signal/config`, (p) => p.length > 0);

    modems.byImei.delete(IMEI);
    hub.bus.emit("modem.removed", { port: "/dev/x", imei: IMEI });
    await watcher.waitOn(signalTopic, (p) => p === "");
    await watcher.waitOn(stateTopic, (p) => p === "");

    const late = await Watcher.open(broker.url, [`${haPrefix}/#`]);
    try {
      await late.sync(`${haPrefix}/sync`);
      const left = late.messages.filter((m) => m.retain).map((m) => m.topic).sort();
      assert.deepEqual(left, [
        `${haPrefix}/sensor/${node}/modem_356938035643817_signal/config`,
        `${haPrefix}/sensor/${node}/modem_356938035643817_state/config`,
        `${haPrefix}/sensor/${node}/numbers_available/config`,
        `${haPrefix}/sensor/${node}/outbox_pending/config`,
      ]);
    } finally {
      await late.close();
    }
  } finally {
    await watcher.close();
    await hub.stop();
    await clearRetained(broker.url, [`${base}/#`, `${haPrefix}/#`]);
  }
});

test("when Home Assistant says online, discovery and states are published again", async () => {
  const base = uniqueName("simhive-test");
  const haPrefix = uniqueName("ha");
  const hubId = uniqueName("hub");
  const node = `simhive_${hubId.replace(/[^a-zA-Z0-9_-]/g, "_")}`;
  const root = `${base}/${hubId}`;
  // Subscribed before the hub starts, so the stats published on connect are seen too.
  const watcher = await Watcher.open(broker.url, [`${haPrefix}/+/${node}/#`, `${root}/#`]);
  const hub = await startHub({
    hubId,
    config: { url: broker.url, baseTopic: base, homeassistant: true, homeassistantPrefix: haPrefix, statsSeconds: 3_600 },
    modems: fakeModems([modem(IMEI)]),
  });
  try {
    const configTopic = `${haPrefix}/sensor/${node}/modem_${IMEI}_signal/config`;
    await watcher.waitOn(configTopic);
    await watcher.waitOn(`${root}/modems/${IMEI}`);
    await watcher.waitOn(`${root}/stats`);
    const before = { config: watcher.on(configTopic).length, state: watcher.on(`${root}/modems/${IMEI}`).length, stats: watcher.on(`${root}/stats`).length };

    await watcher.client.publishAsync(`${haPrefix}/status`, "online", { qos: 1 });
    await watcher.waitFor(() => watcher.on(configTopic).length > before.config, "discovery republished");
    await watcher.waitFor(() => watcher.on(`${root}/modems/${IMEI}`).length > before.state, "modem state republished");
    await watcher.waitFor(() => watcher.on(`${root}/stats`).length > before.stats, "stats republished");
  } finally {
    await watcher.close();
    await hub.stop();
    await clearRetained(broker.url, [`${base}/#`, `${haPrefix}/#`]);
  }
});
