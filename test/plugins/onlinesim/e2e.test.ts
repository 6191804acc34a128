/**
 * The whole path through a real hub (test/helpers/hub.ts): emulated modems
 * driven by serialport-gsm, the SMS intake, LevelDB, activations, the
 * onlinesim plugin behind the hub's HTTP server, and PUSH_SMS to a partner
 * stub over HTTP.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { ModemLayerImpl } from "../../../core/modems/index.ts";
import type { EmulatedModem } from "../../../core/modems/emulator/index.ts";
import { VERSION } from "../../../core/version.ts";
import { startTestHub, type TestHub } from "../../helpers/hub.ts";
import { nextEvent } from "../../core/activations/fixtures.ts";
import { answers, PartnerStub } from "./partner-stub.ts";
import { API_KEY, post } from "./rig.ts";

let hub: TestHub;
let stub: PartnerStub;

async function waitFor(what: string, condition: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function modemOf(msisdn: string): EmulatedModem {
  const layer = hub.hub.modems as ModemLayerImpl;
  for (const [, modem] of layer.emulated) {
    if (modem.options.msisdn === msisdn) return modem;
  }
  throw new Error(`no emulated modem with ${msisdn}`);
}

async function vkCount(): Promise<number | undefined> {
  const reply = await post(hub.url, { action: "GET_SERVICES", key: API_KEY });
  const list = reply.json.countryList as { country: string; operatorMap: Record<string, Record<string, number>> }[];
  return list.find((c) => c.country === "russia")?.operatorMap.any?.vk;
}

describe("onlinesim end to end: emulated modem → PUSH_SMS", () => {
  before(async () => {
    stub = await new PartnerStub([answers.success()]).listen();
    hub = await startTestHub({
      config: {
        modems: { emulator: { count: 3 } },
        plugins: { onlinesim: { enabled: true, apiKey: API_KEY, pushUrl: stub.url, services: ["vk", "ig"], retrySeconds: 0.05 } },
      },
    });
    await waitFor("three numbers", () => hub.hub.modems.numbers.list().length === 3);
  });

  after(async () => {
    await hub?.cleanup();
    await stub?.close();
  });

  it("counts the emulated numbers, reserves one, and pushes the SMS it receives with seed 000's fields", async () => {
    assert.equal(await vkCount(), 3);
    const reply = await post(hub.url, { action: "GET_NUMBER", key: API_KEY, country: "russia", operator: "any", service: "ig", sum: 10 });
    assert.equal(reply.json.status, "SUCCESS");
    const msisdn = String(reply.json.number);
    assert.equal(await vkCount(), 2);
    modemOf(msisdn).inject({ sender: "Instagram", text: "Your verification code is 800142" });
    await stub.waitFor(1);
    assert.deepEqual(stub.received[0]?.json, {
      smsId: reply.json.activationId,
      phoneFrom: "Instagram",
      phone: msisdn,
      text: "Your verification code is 800142",
      action: "PUSH_SMS",
      key: API_KEY,
    });
    assert.equal(stub.received[0]?.headers["user-agent"], `simhive/${VERSION}`);

    // A concatenated SMS is pushed once, whole.
    const long = `Instagram: ${"your code is 123456, do not share it. ".repeat(6)}`.trim();
    modemOf(msisdn).inject({ sender: "Instagram", text: long });
    await stub.waitFor(2);
    assert.equal(stub.received[1]?.json.text, long);

    // After FINISH the number's SMS are stored, not pushed.
    assert.deepEqual((await post(hub.url, { action: "FINISH_ACTIVATION", key: API_KEY, activationId: reply.json.activationId, status: 3 })).json, { status: "SUCCESS" });
    const routed = nextEvent(hub.hub.bus, "sms.routed");
    modemOf(msisdn).inject({ sender: "Instagram", text: "late code 1" });
    assert.equal((await routed).route.state, "after-finish");
    assert.equal(stub.received.length, 2);
    assert.equal(await vkCount(), 3, "sold for ig, still offered for vk");
  });

  it("a modem going away leaves the counts", async () => {
    const before = await vkCount();
    const [first] = hub.hub.modems.numbers.list();
    assert.ok(first);
    modemOf(first.msisdn).unplug();
    await waitFor("the number to go", () => !hub.hub.modems.numbers.list().some((n) => n.msisdn === first.msisdn));
    assert.equal(await vkCount(), (before ?? 0) - 1);
  });
});
