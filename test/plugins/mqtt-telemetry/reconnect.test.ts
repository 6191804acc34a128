import assert from "node:assert/strict";
import { test } from "node:test";
import { EVENT_QUEUE_LIMIT } from "../../../plugins/mqtt-telemetry/publisher.ts";
import { brokerForSuite, clearRetained, fakeModems, modem, startAedes, startHub, TcpGate, uniqueName, Watcher, type Broker } from "./helpers.ts";

const IMEI = "356938035643809";

const broker = brokerForSuite();

test("after the broker restarts (empty, on the same port) the plugin reconnects and publishes status and state again", { skip: process.env.MQTT_URL ? "restarts an in-process aedes; the TcpGate test covers MQTT_URL" : false }, async () => {
  let first: Broker | undefined = await startAedes();
  const port = first.port;
  const base = uniqueName("simhive-test");
  const hub = await startHub({ config: { url: first.url, baseTopic: base }, modems: fakeModems([modem(IMEI)]) });
  const root = `${base}/${hub.hubId}`;
  let second: Broker | undefined;
  try {
    const before = await Watcher.open(first.url, [`${root}/#`]);
    await before.waitOn(`${root}/modems/${IMEI}`);
    await before.close();

    await first.close();
    first = undefined;
    // Changed while the broker is away: kept as the latest value and sent on reconnect.
    hub.bus.emit("modem.updated", { modem: modem(IMEI, { signalDbm: -99 }) });
    second = await startAedes(port);

    const watcher = await Watcher.open(second.url, [`${root}/#`]);
    try {
      await watcher.waitOn(`${root}/status`, (p) => p === "online", "status online on the new broker");
      const state = await watcher.waitOn(`${root}/modems/${IMEI}`, (p) => JSON.parse(p).signal === -99, "latest modem state on the new broker");
      assert.equal(JSON.parse(state.payload).state, "ready");
    } finally {
      await watcher.close();
    }
  } finally {
    await hub.stop();
    await first?.close();
    await second?.close();
  }
});

test("broker down at start: the plugin starts at once, keeps only the latest state and a bounded event queue, and catches up on connect", async () => {
  const gate = new TcpGate(broker);
  await gate.reservePort();
  const base = uniqueName("simhive-test");
  const hubId = uniqueName("hub");
  const root = `${base}/${hubId}`;
  // Subscribed directly on the broker before the plugin can reach it: every message it sends is seen.
  const watcher = await Watcher.open(broker.url, [`${root}/#`]);
  const hub = await startHub({ hubId, config: { url: gate.url, baseTopic: base, statsSeconds: 1 }, modems: fakeModems([modem(IMEI)]) });
  try {
    assert.equal(hub.host.status("mqtt-telemetry"), "running", "start did not wait for the broker");
    const gauge = async (name: string): Promise<number | undefined> => (await hub.metrics.getSingleMetric(name)?.get())?.values[0]?.value;
    assert.equal(await gauge("simhive_mqtt_connected"), 0);

    const total = EVENT_QUEUE_LIMIT * 5;
    for (let i = 1; i <= total; i += 1) {
      hub.bus.emit("modem.updated", { modem: modem(IMEI, { signalDbm: -50 - (i % 40), storageUsed: i }) });
      hub.bus.emit("activation.started", { activationId: i, marketplace: "onlinesim", msisdn: "79160000001", service: "telegram" });
    }

    await gate.up();
    await watcher.waitOn(`${root}/status`, (p) => p === "online");
    await watcher.waitOn(`${root}/events`, (p) => JSON.parse(p).activationId === total, "the last event");

    const states = watcher.on(`${root}/modems/${IMEI}`).map((m) => JSON.parse(m.payload).storage.used);
    assert.deepEqual(states, [total], "only the latest state was kept and sent");
    const ids = watcher.on(`${root}/events`).map((m) => JSON.parse(m.payload).activationId);
    assert.equal(ids.length, EVENT_QUEUE_LIMIT, "events beyond the limit were dropped");
    assert.deepEqual(ids, Array.from({ length: EVENT_QUEUE_LIMIT }, (_, k) => total - EVENT_QUEUE_LIMIT + 1 + k), "the newest events, in order");
    assert.equal(await gauge("simhive_mqtt_connected"), 1);
    assert.equal(await gauge("simhive_mqtt_dropped_events"), total - EVENT_QUEUE_LIMIT);
    assert.equal(await gauge("simhive_mqtt_held_retained_topics"), 1);
    await watcher.waitOn(`${root}/stats`);

    // The connection is cut (broker gone): the last will shows offline; back up, the plugin returns.
    await gate.down();
    await watcher.waitOn(`${root}/status`, (p) => p === "offline", "last will after the cut");
    await gate.up();
    await watcher.waitFor(
      (m) => m.topic === `${root}/status` && m.payload === "online" && watcher.on(`${root}/status`).filter((s) => s.payload === "online").length >= 2,
      "online again after the reconnect",
    );
  } finally {
    await watcher.close();
    await hub.stop();
    await gate.down();
    await clearRetained(broker.url, [`${base}/#`]);
  }
});
