/**
 * A modem that went away while the hub was down: its retained state and Home
 * Assistant configs are cleared once the hub has started and the modem layer
 * had its chance to find it (staleAfterSeconds); the modems it still has keep
 * theirs.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { haSafe } from "../../../plugins/mqtt-telemetry/topics.ts";
import { brokerForSuite, clearRetained, fakeModems, modem, retainedNow, startHub, uniqueName, Watcher } from "./helpers.ts";

const KEPT = "356938035643809";
const GONE = "356938035643817";

const broker = brokerForSuite();

/** Names for one hub that is started twice; the sweep runs as soon as the hub has started. */
function names() {
  const base = uniqueName("simhive-test");
  const haPrefix = uniqueName("ha");
  const hubId = uniqueName("hub");
  const config = { url: broker.url, baseTopic: base, homeassistant: true, homeassistantPrefix: haPrefix, staleAfterSeconds: 0, statsSeconds: 3_600 };
  return { base, haPrefix, hubId, root: `${base}/${hubId}`, node: haSafe(`simhive_${hubId}`), config };
}

test("after a restart without a modem, its retained state and discovery configs are cleared once the hub has started; the other modem and the hub keep theirs", async () => {
  const { base, haPrefix, hubId, root, node, config } = names();
  const ownTopics = (imei: string): string[] => [
    `${root}/modems/${imei}`,
    `${haPrefix}/sensor/${node}/modem_${imei}_signal/config`,
    `${haPrefix}/sensor/${node}/modem_${imei}_state/config`,
  ];
  const watcher = await Watcher.open(broker.url, [`${root}/#`, `${haPrefix}/#`]);
  let hub = await startHub({ hubId, config, modems: fakeModems([modem(KEPT), modem(GONE)]) });
  try {
    for (const topic of [...ownTopics(KEPT), ...ownTopics(GONE)]) await watcher.waitOn(topic, (p) => p.length > 0);
    await hub.stop();

    // GONE was unplugged while the hub was down.
    hub = await startHub({ hubId, config, modems: fakeModems([modem(KEPT)]) });
    await watcher.waitFor((m) => m.topic === `${root}/status` && m.payload === "online" && watcher.on(`${root}/status`).filter((s) => s.payload === "online").length >= 2, "the second hub online");
    hub.bus.emit("hub.started", { startedAt: Date.now() });
    for (const topic of ownTopics(GONE)) await watcher.waitOn(topic, (p) => p === "", `${topic} cleared`);

    const retained = await retainedNow(broker.url, [`${root}/#`, `${haPrefix}/#`], `${root}/sync`);
    assert.deepEqual(
      retained.map((m) => m.topic).sort(),
      [
        `${haPrefix}/sensor/${node}/modem_${KEPT}_signal/config`,
        `${haPrefix}/sensor/${node}/modem_${KEPT}_state/config`,
        `${haPrefix}/sensor/${node}/numbers_available/config`,
        `${haPrefix}/sensor/${node}/outbox_pending/config`,
        `${root}/modems/${KEPT}`,
        `${root}/status`,
      ].sort(),
    );
    assert.equal(JSON.parse(retained.find((m) => m.topic === `${root}/modems/${KEPT}`)?.payload ?? "{}").state, "ready");
    for (const topic of ownTopics(KEPT)) assert.ok(watcher.on(topic).every((m) => m.payload.length > 0), `${topic} was never cleared`);
  } finally {
    await watcher.close();
    await hub.stop();
    await clearRetained(broker.url, [`${base}/#`, `${haPrefix}/#`]);
  }
});

test("with homeassistant turned off, the hub's old discovery configs are cleared too; modem states stay", async () => {
  const { base, haPrefix, hubId, root, node, config } = names();
  const watcher = await Watcher.open(broker.url, [`${root}/#`, `${haPrefix}/#`]);
  let hub = await startHub({ hubId, config, modems: fakeModems([modem(KEPT)]) });
  const configs = [`${haPrefix}/sensor/${node}/modem_${KEPT}_signal/config`, `${haPrefix}/sensor/${node}/numbers_available/config`];
  try {
    for (const topic of configs) await watcher.waitOn(topic, (p) => p.length > 0);
    await hub.stop();
    hub = await startHub({ hubId, config: { ...config, homeassistant: false }, modems: fakeModems([modem(KEPT)]) });
    hub.bus.emit("hub.started", { startedAt: Date.now() });
    for (const topic of configs) await watcher.waitOn(topic, (p) => p === "", `${topic} cleared`);
    const retained = await retainedNow(broker.url, [`${root}/#`, `${haPrefix}/#`], `${root}/sync`);
    assert.deepEqual(retained.map((m) => m.topic).sort(), [`${root}/modems/${KEPT}`, `${root}/status`].sort());
  } finally {
    await watcher.close();
    await hub.stop();
    await clearRetained(broker.url, [`${base}/#`, `${haPrefix}/#`]);
  }
});
