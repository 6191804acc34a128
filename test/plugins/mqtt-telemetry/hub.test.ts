/**
 * mqtt-telemetry on a real hub: two emulated modems, the onlinesim plugin and
 * a partner stub. What an operator's subscriber sees: retained modem states
 * with their numbers, the activation and SMS events, and never an SMS text or
 * sender (includeText is off by default).
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { ModemStatePayload } from "../../../plugins/mqtt-telemetry/payloads.ts";
import { answers, PartnerStub } from "../onlinesim/partner-stub.ts";
import { brokerForSuite, clearRetained, Watcher, type Received } from "./helpers.ts";
import { API_KEY, emulatedModemOf, emulatedModems, post, startRealHub } from "./real-hub.ts";

const broker = brokerForSuite();
let stub: PartnerStub;
before(async () => {
  stub = await new PartnerStub([answers.success()]).listen();
});
after(async () => {
  await stub.close();
});

const parse = (message: Received): Record<string, unknown> => JSON.parse(message.payload) as Record<string, unknown>;

test("a real hub: retained modem states with numbers, activation and SMS events, no SMS text or sender on any topic", async () => {
  const real = await startRealHub({ brokerUrl: broker.url, pushUrl: stub.url, modems: 2 });
  const { test: hub, root } = real;
  const all = [`${real.baseTopic}/#`];
  const live = await Watcher.open(broker.url, all);
  let late: Watcher | undefined;
  try {
    const modems = emulatedModems(hub).map((m) => ({ imei: m.options.imei, msisdn: m.options.msisdn }));
    assert.equal(modems.length, 2);
    assert.equal(new Set(modems.map((m) => m.msisdn)).size, 2);

    // Both modems come up ready with their numbers (a modem's number can arrive after "ready": USSD).
    for (const { imei, msisdn } of modems) {
      await live.waitOn(
        `${root}/modems/${imei}`,
        (p) => {
          const state = JSON.parse(p) as ModemStatePayload;
          return state.state === "ready" && state.number === msisdn;
        },
        `modem ${imei} ready with ${msisdn}`,
      );
    }

    // A subscriber that arrives later gets them as retained messages, along with the hub's status.
    late = await Watcher.open(broker.url, all);
    await late.sync(`${root}/sync`);
    assert.equal(late.on(`${root}/status`).at(-1)?.payload, "online");
    for (const { imei, msisdn } of modems) {
      const retained = late.on(`${root}/modems/${imei}`);
      assert.ok(retained.length > 0 && retained.every((m) => m.retain), `retained state of ${imei}`);
      const state = JSON.parse(retained.at(-1)?.payload ?? "{}") as ModemStatePayload;
      assert.equal(state.state, "ready");
      assert.equal(state.number, msisdn);
      assert.equal(state.imei, imei);
      assert.equal(state.country, "russia");
    }

    // Reserve a number over HTTP and send an SMS to its modem.
    const reply = await post(hub.url, { action: "GET_NUMBER", key: API_KEY, country: "russia", operator: "any", service: "vk", sum: 5 });
    assert.equal(reply.json.status, "SUCCESS");
    const msisdn = String(reply.json.number);
    const activationId = reply.json.activationId as number;
    const modem = emulatedModemOf(hub, msisdn);
    const sender = "+79161234567";
    const text = "VK: 583920 is your login code";
    modem.inject({ sender, text });
    await stub.waitFor(1);
    assert.equal(stub.received[0]?.json.text, text, "the SMS did carry the text to the partner");

    const events = `${root}/events`;
    const started = parse(await live.waitOn(events, (p) => JSON.parse(p).event === "activation.started", "activation.started"));
    assert.deepEqual({ ...started, at: undefined }, { event: "activation.started", activationId, marketplace: "onlinesim", number: msisdn, service: "vk", at: undefined });
    const received = parse(await live.waitOn(events, (p) => JSON.parse(p).event === "sms.received", "sms.received"));
    assert.equal(received.number, msisdn);
    assert.equal(received.imei, modem.options.imei);
    assert.equal(received.iccid, modem.options.iccid);
    assert.equal(received.parts, 1);
    assert.equal(received.complete, true);
    assert.ok(!("text" in received) && !("sender" in received), "no text or sender fields by default");
    assert.ok(live.on(events).every((m) => !m.retain), "events are not retained");

    // Everything published so far, on every topic: neither the text, nor its code, nor the sender.
    await live.sync(`${root}/sync`);
    const seen = [...live.messages, ...late.messages];
    assert.ok(seen.length > 0);
    for (const message of seen) {
      for (const secret of [text, "583920", "79161234567"]) {
        assert.ok(!message.payload.includes(secret) && !message.topic.includes(secret), `${message.topic} carries "${secret}": ${message.payload}`);
      }
    }
  } finally {
    await late?.close();
    await live.close();
    await hub.cleanup();
    await clearRetained(broker.url, all);
  }
});
