/**
 * Connections that die with messages in flight: a broker that never
 * acknowledges (PUBACKs dropped by a TcpGate in front of the real broker) and
 * a link that stalls before it is cut. Runs on aedes, or on MQTT_URL.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { EVENT_QUEUE_LIMIT, MAX_IN_FLIGHT } from "../../../plugins/mqtt-telemetry/publisher.ts";
import { brokerForSuite, clearRetained, fakeModems, gaugeValue, modem, retainedNow, startHub, TcpGate, uniqueName, Watcher } from "./helpers.ts";

const IMEI = "356938035643809";

const broker = brokerForSuite();

const started = (activationId: number) => ({ activationId, marketplace: "onlinesim", msisdn: "79160000001", service: "telegram" });

test("a broker that never acknowledges, cut six times: mqtt.js holds at most the in-flight cap, queued events stay bounded, and the retained state is the latest after every reconnect", async () => {
  const gate = new TcpGate(broker);
  await gate.up();
  const base = uniqueName("simhive-test");
  const hubId = uniqueName("hub");
  const root = `${base}/${hubId}`;
  const modemTopic = `${root}/modems/${IMEI}`;
  const watcher = await Watcher.open(broker.url, [`${root}/status`, modemTopic]);
  const hub = await startHub({ hubId, config: { url: gate.url, baseTopic: base, reconnectMaxSeconds: 1, statsSeconds: 3_600 }, modems: fakeModems([modem(IMEI)]) });
  const onlines = (): number => watcher.on(`${root}/status`).filter((m) => m.payload === "online").length;
  const copiesOf = (storageUsed: number): number => watcher.on(modemTopic).filter((m) => JSON.parse(m.payload).storage.used === storageUsed).length;
  try {
    await watcher.waitFor(() => onlines() >= 1, "online");
    gate.mode = "acksDropped";
    const held: number[] = [];
    for (let outage = 1; outage <= 6; outage += 1) {
      hub.bus.emit("modem.updated", { modem: modem(IMEI, { storageUsed: outage }) });
      for (let i = 0; i < 300; i += 1) hub.bus.emit("activation.started", started(outage * 1_000 + i));
      const unacked = (await gaugeValue(hub.metrics, "simhive_mqtt_unacked_messages")) ?? Number.NaN;
      held.push(unacked);
      assert.ok(unacked <= MAX_IN_FLIGHT, `before outage ${outage}: mqtt.js holds ${unacked} unacknowledged messages (${held.join(", ")})`);
      const queued = (await gaugeValue(hub.metrics, "simhive_mqtt_queued_events")) ?? Number.NaN;
      assert.ok(queued <= EVENT_QUEUE_LIMIT, `before outage ${outage}: ${queued} events queued`);

      // The new state reached the broker before the cut (only its acknowledgement is lost).
      await watcher.waitFor(() => copiesOf(outage) >= 1, `modem state ${outage} published`);
      gate.cut();
      await watcher.waitFor(() => onlines() >= outage + 1, `online again after outage ${outage}`);
      // The state was published live once; the reconnect replays the latest value.
      await watcher.waitFor(() => copiesOf(outage) >= 2, `modem state ${outage} replayed after outage ${outage}`);
      const retained = (await retainedNow(broker.url, [modemTopic, `${root}/sync`], `${root}/sync`)).filter((m) => m.topic === modemTopic);
      assert.equal(retained.length, 1);
      assert.equal(JSON.parse(retained[0]?.payload ?? "{}").storage.used, outage, "the retained state is the latest");
    }
    assert.ok(((await gaugeValue(hub.metrics, "simhive_mqtt_dropped_events")) ?? 0) > 0, "events beyond the bound were dropped, not kept");
  } finally {
    await watcher.close();
    await hub.stop();
    await gate.down();
    await clearRetained(broker.url, [`${base}/#`]);
  }
});

test("events in flight when the link dies are sent again on the next connection, in order", async () => {
  const gate = new TcpGate(broker);
  await gate.up();
  const base = uniqueName("simhive-test");
  const hubId = uniqueName("hub");
  const root = `${base}/${hubId}`;
  const watcher = await Watcher.open(broker.url, [`${root}/status`, `${root}/events`]);
  const hub = await startHub({ hubId, config: { url: gate.url, baseTopic: base, reconnectMaxSeconds: 1, statsSeconds: 3_600 } });
  const onlines = (): number => watcher.on(`${root}/status`).filter((m) => m.payload === "online").length;
  try {
    await watcher.waitFor(() => onlines() >= 1, "online");
    gate.mode = "stalled";
    for (let i = 1; i <= 50; i += 1) hub.bus.emit("activation.started", started(i));
    gate.cut();
    gate.mode = "open";
    await watcher.waitFor(() => onlines() >= 2, "online again");
    hub.bus.emit("activation.started", started(999));
    await watcher.waitOn(`${root}/events`, (p) => JSON.parse(p).activationId === 999, "the event published after the reconnect");
    const ids = watcher.on(`${root}/events`).map((m) => JSON.parse(m.payload).activationId as number);
    assert.deepEqual(ids, [...Array.from({ length: 50 }, (_, k) => k + 1), 999], "the 50 events lost with the link came first, once each");
  } finally {
    await watcher.close();
    await hub.stop();
    await gate.down();
    await clearRetained(broker.url, [`${base}/#`]);
  }
});
