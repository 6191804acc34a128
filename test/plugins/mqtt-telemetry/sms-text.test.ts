import assert from "node:assert/strict";
import { test } from "node:test";
import type { EventBus } from "../../../core/bus.ts";
import type { SmsMessage } from "../../../core/types.ts";
import { brokerForSuite, clearRetained, fakeModems, modem, startHub, uniqueName, Watcher } from "./helpers.ts";

const CODE = "482913";
const SENDER = "79261234567";

const broker = brokerForSuite();

function sms(): SmsMessage {
  return {
    messageId: "01JTEST000000000000000001",
    fingerprint: "f1",
    iccid: "897010135643809",
    msisdn: "79165643809",
    imei: "356938035643809",
    sender: SENDER,
    text: `Your login code: ${CODE}. Do not share it.`,
    receivedAt: Date.UTC(2025, 0, 2, 3, 4, 5),
    parts: 1,
    complete: true,
  };
}

/** Everything that could carry the text: the SMS path's events, then a sentinel to know it was all published. */
function emitSmsPath(bus: EventBus): void {
  const message = sms();
  bus.emit("activation.started", { activationId: 7, marketplace: "onlinesim", msisdn: "79165643809", service: "telegram" });
  bus.emit("sms.received", { message });
  bus.emit("sms.routed", { messageId: message.messageId, iccid: message.iccid, route: { state: "forwarded", at: Date.now(), activationId: 7, marketplace: "onlinesim" } });
  bus.emit("modem.updated", { modem: modem("356938035643809", { lastSmsAt: message.receivedAt, storageUsed: 3 }) });
  bus.emit("push.gaveUp", { marketplace: "onlinesim", activationId: 7, messageId: message.messageId, reason: "partner refused", attempts: 3 });
  bus.emit("activation.finished", { activationId: 7, marketplace: "onlinesim", msisdn: "79165643809", service: "telegram", status: 3, reason: "sold" });
}

async function runHub(includeText: boolean): Promise<{ payloads: string[]; smsEvent: Record<string, unknown> }> {
  const base = uniqueName("simhive-test");
  const haPrefix = uniqueName("ha");
  const hub = await startHub({
    config: { url: broker.url, baseTopic: base, statsSeconds: 1, homeassistant: true, homeassistantPrefix: haPrefix, includeText },
    modems: fakeModems([modem("356938035643809")]),
  });
  const root = `${base}/${hub.hubId}`;
  const watcher = await Watcher.open(broker.url, [`${base}/#`, `${haPrefix}/#`]);
  try {
    await watcher.waitOn(`${root}/status`, (p) => p === "online");
    emitSmsPath(hub.bus);
    await watcher.waitOn(`${root}/events`, (p) => JSON.parse(p).event === "activation.finished");
    // Stats computed after the SMS: the counters moved, so the stats topic saw the SMS too.
    await watcher.waitOn(`${root}/stats`, (p) => JSON.parse(p).sms.received === 1);
    const smsEvent = JSON.parse((await watcher.waitOn(`${root}/events`, (p) => JSON.parse(p).event === "sms.received")).payload);
    return { payloads: watcher.messages.map((m) => `${m.topic} ${m.payload}`), smsEvent };
  } finally {
    await watcher.close();
    await hub.stop();
    await clearRetained(broker.url, [`${base}/#`, `${haPrefix}/#`]);
  }
}

test("by default no topic carries the SMS text, its code or its sender", async () => {
  const { payloads, smsEvent } = await runHub(false);
  assert.ok(payloads.length > 5, "the hub published its topics");
  for (const line of payloads) {
    assert.ok(!line.includes(CODE), `the code leaked: ${line}`);
    assert.ok(!line.includes(SENDER), `the sender leaked: ${line}`);
  }
  assert.equal(smsEvent.messageId, "01JTEST000000000000000001");
  assert.equal(smsEvent.iccid, "897010135643809");
  assert.equal("text" in smsEvent, false);
  assert.equal("sender" in smsEvent, false);
});

test("with includeText the sms.received event carries text and sender", async () => {
  const { smsEvent } = await runHub(true);
  assert.equal(smsEvent.text, `Your login code: ${CODE}. Do not share it.`);
  assert.equal(smsEvent.sender, SENDER);
});
