/**
 * A real hub whose broker is unreachable from the start: a port that accepts
 * TCP and never answers the CONNECT (a black hole, the worst case: no quick
 * refusal). The hub must start, serve the partner API and push an SMS to the
 * partner while the plugin has never been connected.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { answers, PartnerStub } from "../onlinesim/partner-stub.ts";
import { BlackHole, gaugeValue } from "./helpers.ts";
import { API_KEY, emulatedModemOf, post, startRealHub, waitUntil } from "./real-hub.ts";

let stub: PartnerStub;
let hole: BlackHole;
before(async () => {
  stub = await new PartnerStub([answers.success()]).listen();
  hole = await BlackHole.open();
});
after(async () => {
  await hole.close();
  await stub.close();
});

test("broker unreachable at start (it accepts TCP, never answers): the hub starts, serves the partner API and an SMS reaches the partner", async () => {
  const real = await startRealHub({
    brokerUrl: hole.url,
    pushUrl: stub.url,
    modems: 2,
    telemetry: { homeassistant: true, commands: true, statsSeconds: 1 },
  });
  const hub = real.test;
  const registry = hub.hub.metrics.registry;
  try {
    assert.equal(hub.hub.plugins.status("mqtt-telemetry"), "running");
    assert.equal(hub.hub.plugins.status("onlinesim"), "running");
    assert.equal((await fetch(`${hub.url}/readyz`)).status, 200, "ready without a broker");
    await waitUntil("the plugin reached the black hole", () => hole.accepted >= 1);
    await waitUntil("both numbers usable", () => hub.hub.modems.numbers.list().length === 2);

    const reply = await post(hub.url, { action: "GET_NUMBER", key: API_KEY, country: "russia", operator: "any", service: "vk", sum: 5 });
    assert.equal(reply.json.status, "SUCCESS");
    const text = "VK: 33708 is your code";
    emulatedModemOf(hub, String(reply.json.number)).inject({ sender: "VK", text });
    await stub.waitFor(1);
    assert.equal(stub.received[0]?.json.text, text);

    // All of it while the broker never answered a CONNECT.
    assert.equal(await gaugeValue(registry, "simhive_mqtt_connected"), 0);
  } finally {
    await hub.cleanup();
  }
});
