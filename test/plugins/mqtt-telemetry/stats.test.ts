import assert from "node:assert/strict";
import { test } from "node:test";
import type { Activation, OutboxStats } from "../../../core/activations/types.ts";
import type { NumberInfo } from "../../../core/types.ts";
import {
  brokerForSuite,
  clearRetained,
  fakeActivations,
  fakeModems,
  fakeNumbers,
  modem,
  startHub,
  uniqueName,
  Watcher,
} from "./helpers.ts";

const broker = brokerForSuite();

const number = (msisdn: string): NumberInfo => ({ msisdn, iccid: `89${msisdn}`, imei: `35${msisdn}`, country: "russia", operator: "mts" });

const activation = (activationId: number, msisdn: string, state: Activation["state"]): Activation => ({
  activationId,
  marketplace: "onlinesim",
  msisdn,
  iccid: `89${msisdn}`,
  country: "russia",
  operator: "mts",
  service: "telegram",
  state,
  createdAt: Date.now(),
});

test("stats: available numbers exclude active activations; SMS counters follow the bus; outbox figures come from outboxStats", async () => {
  const base = uniqueName("simhive-test");
  const oldest = Date.UTC(2025, 0, 2, 3, 4, 5);
  const outbox: Record<string, OutboxStats> = {
    onlinesim: { pending: 2, oldestPendingAt: oldest + 1_000, givenUp: 0, delivered: 1 },
    smshub: { pending: 1, oldestPendingAt: oldest, givenUp: 3, delivered: 4 },
  };
  const hub = await startHub({
    config: { url: broker.url, baseTopic: base, statsSeconds: 1 },
    modems: fakeModems([modem("356938035643809"), modem("356938035643817", { state: "sim-error" })]),
    numbers: fakeNumbers([number("79160000001"), number("79160000002"), number("79160000003")]),
    activations: fakeActivations([activation(1, "79160000002", "active"), activation(2, "79160000003", "finished")], outbox),
  });
  const topic = `${base}/${hub.hubId}/stats`;
  const watcher = await Watcher.open(broker.url, [topic]);
  try {
    const at = Date.now();
    hub.bus.emit("sms.received", { message: { messageId: "m1", fingerprint: "f", iccid: "i", sender: "s", text: "t", receivedAt: at, parts: 1, complete: true } });
    hub.bus.emit("sms.received", { message: { messageId: "m2", fingerprint: "f", iccid: "i", sender: "s", text: "t", receivedAt: at, parts: 1, complete: true } });
    hub.bus.emit("sms.received", { message: { messageId: "m3", fingerprint: "f", iccid: "i", sender: "s", text: "t", receivedAt: at, parts: 1, complete: true } });
    const routed = { at, activationId: 1, marketplace: "onlinesim" };
    hub.bus.emit("sms.routed", { messageId: "m1", iccid: "i", route: { state: "forwarded", ...routed } });
    hub.bus.emit("sms.routed", { messageId: "m2", iccid: "i", route: { state: "forwarded", ...routed } });
    hub.bus.emit("sms.routed", { messageId: "m3", iccid: "i", route: { state: "dropped", reason: "filter", ...routed } });

    const message = await watcher.waitOn(topic, (p) => JSON.parse(p).sms.received === 3);
    assert.equal(message.retain, false, "stats are not retained");
    const stats = JSON.parse(message.payload);
    assert.deepEqual(stats.numbers, { total: 3, available: 2 });
    assert.deepEqual(stats.activations, { active: 1 });
    assert.deepEqual(stats.sms, { received: 3, forwarded: 2, dropped: 1, held: 0, unrouted: 0 });
    assert.deepEqual(stats.outbox, {
      pending: 3,
      delivered: 5,
      failed: 3,
      oldestPendingAt: new Date(oldest).toISOString(),
      marketplaces: {
        onlinesim: { pending: 2, delivered: 1, failed: 0, oldestPendingAt: new Date(oldest + 1_000).toISOString() },
        smshub: { pending: 1, delivered: 4, failed: 3, oldestPendingAt: new Date(oldest).toISOString() },
      },
    });
    assert.deepEqual(stats.modems, { total: 2, ready: 1 });
    assert.equal(typeof stats.uptimeSeconds, "number");
    assert.ok(stats.memory.rss > 0 && stats.memory.heapUsed > 0);
    assert.ok(!Number.isNaN(Date.parse(stats.at)));

    // Published again on the timer, not only on connect, with the outboxes read afresh.
    outbox.onlinesim = { pending: 0, givenUp: 1, delivered: 2 };
    delete outbox.smshub;
    const next = JSON.parse((await watcher.waitOn(topic, (p) => JSON.parse(p).outbox.failed === 1)).payload);
    assert.deepEqual(next.outbox, { pending: 0, delivered: 2, failed: 1, oldestPendingAt: null, marketplaces: { onlinesim: { pending: 0, delivered: 2, failed: 1, oldestPendingAt: null } } });
  } finally {
    await watcher.close();
    await hub.stop();
    await clearRetained(broker.url, [`${base}/#`]);
  }
});
