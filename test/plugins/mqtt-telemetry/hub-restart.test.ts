/**
 * A real hub restarted with a modem fewer (unplugged while it was down): once
 * the hub has started and staleAfterSeconds have passed, the missing modem's
 * retained state and Home Assistant configs are cleared; the modem still
 * there keeps its own, ready.
 */
import assert from "node:assert/strict";
import { rm } from "node:fs/promises";
import { after, before, test } from "node:test";
import type { ModemStatePayload } from "../../../plugins/mqtt-telemetry/payloads.ts";
import { haSafe } from "../../../plugins/mqtt-telemetry/topics.ts";
import { answers, PartnerStub } from "../onlinesim/partner-stub.ts";
import { brokerForSuite, clearRetained, retainedNow, uniqueName, Watcher } from "./helpers.ts";
import { emulatedModems, startRealHub } from "./real-hub.ts";

const broker = brokerForSuite();
let stub: PartnerStub;
before(async () => {
  stub = await new PartnerStub([answers.success()]).listen();
});
after(async () => {
  await stub.close();
});

test("a real hub restarted without one of its two modems clears that modem's retained state and discovery configs; the other stays ready", async () => {
  const homeassistantPrefix = uniqueName("ha");
  const telemetry = { homeassistant: true, homeassistantPrefix, staleAfterSeconds: 0, statsSeconds: 3_600 };
  const first = await startRealHub({ brokerUrl: broker.url, pushUrl: stub.url, modems: 2, telemetry });
  const { hubId, baseTopic, root } = first;
  const dataDir = first.test.dataDir;
  const node = haSafe(`simhive_${hubId}`);
  const [kept, gone] = emulatedModems(first.test).map((m) => m.options.imei);
  assert.ok(kept && gone);
  const ownTopics = (imei: string): string[] => [
    `${root}/modems/${imei}`,
    `${homeassistantPrefix}/sensor/${node}/modem_${imei}_signal/config`,
    `${homeassistantPrefix}/sensor/${node}/modem_${imei}_state/config`,
  ];
  const all = [`${baseTopic}/#`, `${homeassistantPrefix}/#`];
  const watcher = await Watcher.open(broker.url, all);
  let second: Awaited<ReturnType<typeof startRealHub>> | undefined;
  try {
    for (const imei of [kept, gone]) {
      await watcher.waitOn(`${root}/modems/${imei}`, (p) => (JSON.parse(p) as ModemStatePayload).state === "ready", `${imei} ready`);
    }
    for (const topic of [...ownTopics(kept), ...ownTopics(gone)]) await watcher.waitOn(topic, (p) => p.length > 0);
    await first.test.stop();

    second = await startRealHub({ brokerUrl: broker.url, pushUrl: stub.url, modems: 1, telemetry, hubId, baseTopic, dataDir });
    assert.deepEqual(emulatedModems(second.test).map((m) => m.options.imei), [kept]);
    for (const topic of ownTopics(gone)) await watcher.waitOn(topic, (p) => p === "", `${topic} cleared`);

    const retained = await retainedNow(broker.url, all, `${root}/sync`);
    const retainedOf = (imei: string): string[] => retained.filter((m) => m.topic.includes(imei)).map((m) => m.topic);
    assert.deepEqual(retainedOf(gone), []);
    assert.deepEqual(retainedOf(kept).sort(), ownTopics(kept).sort());
    assert.equal((JSON.parse(retained.find((m) => m.topic === `${root}/modems/${kept}`)?.payload ?? "{}") as ModemStatePayload).state, "ready");
  } finally {
    await watcher.close();
    await second?.test.stop();
    await first.test.stop();
    await rm(dataDir, { recursive: true, force: true });
    await clearRetained(broker.url, all);
  }
});
