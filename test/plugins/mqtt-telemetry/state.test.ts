import assert from "node:assert/strict";
import { test } from "node:test";
import { brokerForSuite, clearRetained, fakeModems, modem, startHub, uniqueName, Watcher } from "./helpers.ts";

const broker = brokerForSuite();

test("status and per-modem state are retained: a subscriber that comes late gets them", async () => {
  const base = uniqueName("simhive-test");
  const modems = fakeModems([modem("356938035643809")]);
  const hub = await startHub({ config: { url: broker.url, baseTopic: base }, modems });
  const root = `${base}/${hub.hubId}`;
  const early = await Watcher.open(broker.url, [`${base}/#`]);
  try {
    await early.waitOn(`${root}/status`, (p) => p === "online");
    await early.waitOn(`${root}/modems/356938035643809`);

    const late = await Watcher.open(broker.url, [`${root}/status`, `${root}/modems/+`]);
    try {
      const status = await late.waitOn(`${root}/status`);
      assert.equal(status.payload, "online");
      assert.equal(status.retain, true);
      const state = await late.waitOn(`${root}/modems/356938035643809`);
      assert.equal(state.retain, true);
      assert.deepEqual(JSON.parse(state.payload), {
        imei: "356938035643809",
        port: "/dev/serial/by-path/platform-usb-0:1.9:1.0-port0",
        state: "ready",
        reason: null,
        signal: -71,
        registration: "home",
        operator: "mts",
        country: "russia",
        iccid: "897010135643809",
        number: "79165643809",
        storage: { used: 2, total: 30 },
        lastSmsAt: "2025-01-02T03:04:05.000Z",
        reconnects: 1,
      });
    } finally {
      await late.close();
    }
  } finally {
    await early.close();
    await hub.stop();
    await clearRetained(broker.url, [`${base}/#`]);
  }
});

test("modem state is published on change only, from modem.updated and modem.state", async () => {
  const base = uniqueName("simhive-test");
  const hub = await startHub({ config: { url: broker.url, baseTopic: base } });
  const topic = `${base}/${hub.hubId}/modems/356938035643817`;
  const watcher = await Watcher.open(broker.url, [`${base}/#`]);
  try {
    await watcher.waitOn(`${base}/${hub.hubId}/status`, (p) => p === "online");
    const first = modem("356938035643817", { signalDbm: -80 });
    hub.bus.emit("modem.updated", { modem: first });
    await watcher.waitOn(topic, (p) => JSON.parse(p).signal === -80);
    // Same content, newer updatedAt: nothing to publish.
    hub.bus.emit("modem.updated", { modem: { ...first, updatedAt: first.updatedAt + 5_000 } });
    hub.bus.emit("modem.updated", { modem: { ...first, signalDbm: -65 } });
    await watcher.waitOn(topic, (p) => JSON.parse(p).signal === -65);
    hub.bus.emit("modem.state", { port: first.port, imei: "356938035643817", state: "not-registered", previous: "ready", reason: "no network" });
    const down = await watcher.waitOn(topic, (p) => JSON.parse(p).state === "not-registered");
    assert.equal(JSON.parse(down.payload).reason, "no network");
    assert.equal(JSON.parse(down.payload).signal, -65, "modem.state keeps the last known fields");
    assert.deepEqual(
      watcher.on(topic).map((m) => JSON.parse(m.payload).signal),
      [-80, -65, -65],
      "the unchanged update was not published",
    );
    const event = await watcher.waitOn(`${base}/${hub.hubId}/events`, (p) => JSON.parse(p).event === "modem.down");
    assert.equal(event.retain, false);
    assert.equal(JSON.parse(event.payload).imei, "356938035643817");
  } finally {
    await watcher.close();
    await hub.stop();
    await clearRetained(broker.url, [`${base}/#`]);
  }
});

test("a modem gone for good has its retained state cleared", async () => {
  const base = uniqueName("simhive-test");
  const modems = fakeModems([modem("356938035643825")]);
  const hub = await startHub({ config: { url: broker.url, baseTopic: base }, modems });
  const topic = `${base}/${hub.hubId}/modems/356938035643825`;
  const watcher = await Watcher.open(broker.url, [`${base}/#`]);
  try {
    await watcher.waitOn(topic, (p) => p.length > 0);
    modems.byImei.delete("356938035643825");
    hub.bus.emit("modem.removed", { port: "/dev/x", imei: "356938035643825" });
    const cleared = await watcher.waitOn(topic, (p) => p === "");
    assert.equal(cleared.payload, "");
    await watcher.waitOn(`${base}/${hub.hubId}/events`, (p) => JSON.parse(p).event === "modem.removed");
    const late = await Watcher.open(broker.url, [`${base}/${hub.hubId}/#`]);
    try {
      await late.sync(`${base}/${hub.hubId}/sync`);
      assert.equal(late.on(topic).length, 0, "no retained state left for the removed modem");
    } finally {
      await late.close();
    }
  } finally {
    await watcher.close();
    await hub.stop();
    await clearRetained(broker.url, [`${base}/#`]);
  }
});

test("a clean stop publishes offline on the status topic", async () => {
  const base = uniqueName("simhive-test");
  const hub = await startHub({ config: { url: broker.url, baseTopic: base } });
  const watcher = await Watcher.open(broker.url, [`${base}/#`]);
  try {
    await watcher.waitOn(`${base}/${hub.hubId}/status`, (p) => p === "online");
    await hub.stop();
    await watcher.waitOn(`${base}/${hub.hubId}/status`, (p) => p === "offline");
  } finally {
    await watcher.close();
    await clearRetained(broker.url, [`${base}/#`]);
  }
});
