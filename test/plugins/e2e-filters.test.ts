/**
 * number-exceptions and sms-filter end to end on a real hub
 * (test/helpers/hub.ts): emulated modems driven by serialport-gsm, the SMS
 * intake, LevelDB, activations, the onlinesim plugin behind the hub's HTTP
 * server, and PUSH_SMS to a partner stub over HTTP. The config goes through
 * the hub's loader (schemas, defaults, validateConfig).
 *
 * Emulated identities are deterministic: modem n has the number 7900 + n
 * padded to 7 digits (79000000001 ... 79000000006 here). The masks exclude
 * modem 2's number everywhere and every number ending in 5 for tg.
 */
import assert from "node:assert/strict";
import { rm } from "node:fs/promises";
import { after, before, describe, it } from "node:test";
import { smsRows } from "../../core/activations/report.ts";
import { isSimhiveError } from "../../core/errors.ts";
import { emulatedIdentity, type ModemLayerImpl } from "../../core/modems/index.ts";
import type { EmulatedModem } from "../../core/modems/emulator/index.ts";
import { makeTempDir, startTestHub, type TestHub } from "../helpers/hub.ts";
import { nextEvent } from "../core/activations/fixtures.ts";
import { answers, PartnerStub } from "./onlinesim/partner-stub.ts";
import { API_KEY, post } from "./onlinesim/rig.ts";

const ADMIN_TOKEN = "number-exceptions-admin-0123456789";
const MODEMS = 6;
/** The emulated numbers, by modem (1-based): what the layer will report. */
const NUMBER = Array.from({ length: MODEMS + 1 }, (_, n) => (n === 0 ? "" : emulatedIdentity(n, { cnumEvery: 2, pathPrefix: "/emu/by-path/" }).msisdn));
const EXCLUDED = NUMBER[2] as string;

const numberExceptions = { enabled: true, masks: [EXCLUDED], serviceMasks: { tg: ["*5"] }, adminToken: ADMIN_TOKEN };

function hubConfig(pushUrl: string, exceptions: Record<string, unknown> = numberExceptions): Record<string, unknown> {
  return {
    modems: { emulator: { count: MODEMS } },
    plugins: {
      onlinesim: { enabled: true, apiKey: API_KEY, pushUrl, services: ["vk", "tg", "ot"], retrySeconds: 0.05 },
      "number-exceptions": exceptions,
      "sms-filter": { enabled: true, mode: "on" },
    },
  };
}

async function onlinesim(hub: TestHub, body: Record<string, unknown>): Promise<Record<string, unknown>> {
  return (await post(hub.url, { key: API_KEY, ...body })).json;
}

/** `{ service: count }` of operator `any` in russia, from GET_SERVICES. */
async function counts(hub: TestHub): Promise<Record<string, number>> {
  const reply = await onlinesim(hub, { action: "GET_SERVICES" });
  const list = reply.countryList as { country: string; operatorMap: Record<string, Record<string, number>> }[];
  return list.find((c) => c.country === "russia")?.operatorMap.any ?? {};
}

function modemOf(hub: TestHub, msisdn: string): EmulatedModem {
  for (const modem of (hub.hub.modems as ModemLayerImpl).emulated.values()) if (modem.options.msisdn === msisdn) return modem;
  throw new Error(`no emulated modem with ${msisdn}`);
}

async function waitFor(what: string, condition: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe("number exceptions and SMS filtering end to end on a real hub with the onlinesim plugin", () => {
  let stub: PartnerStub;
  let hub: TestHub;
  /** Every number GET_NUMBER issued, and the vk activations. */
  const issued: string[] = [];
  const vkActivations: { activationId: number; msisdn: string }[] = [];

  before(async () => {
    stub = await new PartnerStub([answers.success()]).listen();
    hub = await startTestHub({ config: hubConfig(stub.url) });
    assert.ok(hub.hub.plugins.allRunning, JSON.stringify(hub.hub.plugins.list()));
    await waitFor(`${MODEMS} numbers`, () => hub.hub.modems.numbers.list().length === MODEMS);
  });
  after(async () => {
    await hub?.cleanup();
    await stub?.close();
  });

  it("the numbers are the deterministic emulated ones", () => {
    assert.deepEqual(
      hub.hub.modems.numbers
        .list()
        .map((n) => n.msisdn)
        .sort(),
      NUMBER.slice(1),
    );
  });

  it("the hub refuses to start with an invalid mask, naming its config path", async () => {
    const dataDir = await makeTempDir();
    try {
      await assert.rejects(startTestHub({ dataDir, config: hubConfig(stub.url, { enabled: true, masks: ["7908", "79x"] }) }), (error: unknown) => {
        assert.ok(isSimhiveError(error, "SIMHIVE_ERR_CONFIG"));
        assert.ok(error.details.some((line) => line.includes("plugins.number-exceptions.masks[1]")), error.details.join("\n"));
        return true;
      });
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it("masks changed through the admin endpoint and by a config reload show in the next GET_SERVICES", async () => {
    assert.deepEqual(await counts(hub), { vk: MODEMS - 1, tg: MODEMS - 2, ot: MODEMS - 1 });
    const put = async (masks: string[]) => {
      const response = await fetch(`${hub.url}/number-exceptions/masks`, {
        method: "PUT",
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" },
        body: JSON.stringify({ masks }),
      });
      assert.equal(response.status, 200, await response.text());
    };
    await put(["*"]);
    assert.deepEqual(await counts(hub), { vk: 0, tg: 0, ot: 0 });
    await put([]);
    assert.deepEqual(await counts(hub), { vk: MODEMS, tg: MODEMS, ot: MODEMS }, `${EXCLUDED} is offered again (and the tg mask, not in the PUT, is gone)`);
    // An edited config file (the same number written as a pattern) wins over the admin change; an unchanged one would not.
    const edited = { ...numberExceptions, masks: [`7900*${EXCLUDED.slice(-1)}`] };
    assert.deepEqual(await hub.hub.plugins.reload({ "number-exceptions": edited }), []);
    assert.deepEqual(await counts(hub), { vk: MODEMS - 1, tg: MODEMS - 2, ot: MODEMS - 1 }, "the reloaded config wins over the admin change");
  });

  it("GET_NUMBER never issues an excluded number, asked more times than there are numbers; nor a request's exceptions", async () => {
    const ask = async (service: string, exceptionPhoneSet: unknown[] = []): Promise<string[]> => {
      const got: string[] = [];
      for (let attempt = 0; attempt < MODEMS * 2; attempt++) {
        const reply = await onlinesim(hub, { action: "GET_NUMBER", country: "russia", operator: "any", service, sum: 5, exceptionPhoneSet });
        if (reply.status === "NO_NUMBERS") continue;
        assert.equal(reply.status, "SUCCESS");
        got.push(String(reply.number));
        if (service === "vk") vkActivations.push({ activationId: reply.activationId as number, msisdn: String(reply.number) });
      }
      issued.push(...got);
      return got.sort();
    };
    const tg = await ask("tg", [Number(NUMBER[3]), ` +${NUMBER[4]} `]);
    assert.deepEqual(tg, [NUMBER[1], NUMBER[6]], "not 2 (mask), not 5 (tg mask), not 3 / 4 (this request's exceptions)");
    const vk = await ask("vk");
    assert.deepEqual(vk, [NUMBER[3], NUMBER[4], NUMBER[5]]);
    assert.ok(!issued.includes(EXCLUDED), `${EXCLUDED} was issued`);
    assert.deepEqual(await counts(hub), { vk: 0, tg: 0, ot: 0 }, "the excluded number is not counted though it is free");
  });

  it("a spam and a Telegram SMS on a vk activation never reach the partner; a VK code does; `simhive sms` rows show why", async () => {
    const activation = vkActivations[0];
    assert.ok(activation);
    const modem = modemOf(hub, activation.msisdn);
    const iccid = modem.options.iccid;
    const sms = [
      { sender: "MegaFon", text: "Баланс: 153,40 р. Пополните счёт", route: "dropped" },
      { sender: "Telegram", text: "Telegram code: 61523", route: "dropped" },
      { sender: "VK", text: "VK: 33708", route: "forwarded" },
    ];
    const delivered = nextEvent(hub.hub.bus, "push.delivered", (p) => p.activationId === activation.activationId, 20_000);
    for (const { sender, text, route } of sms) {
      const routed = nextEvent(hub.hub.bus, "sms.routed", (p) => p.iccid === iccid, 20_000);
      modem.inject({ sender, text });
      assert.equal((await routed).route.state, route, sender);
    }
    await delivered; // the partner accepted it, and the job is done on disk
    assert.deepEqual(
      stub.received.map((push) => [push.json.smsId, push.json.phone, push.json.phoneFrom, push.json.text]),
      [[activation.activationId, activation.msisdn, "VK", "VK: 33708"]],
      "only the VK code was pushed",
    );

    const rows = await smsRows(hub.hub.store, { msisdn: activation.msisdn });
    assert.deepEqual(
      rows.map((r) => [r.sender, r.route, r.activationId, r.reason ?? null, r.push ?? null]),
      [
        ["VK", "forwarded", activation.activationId, null, "done"],
        ["Telegram", "dropped", activation.activationId, "other-service:tg", null],
        ["MegaFon", "dropped", activation.activationId, "spam", null],
      ],
    );
    assert.ok(rows.every((r) => r.text === undefined), "no text without showText");

    const metric = hub.hub.metrics.registry.getSingleMetric("simhive_sms_filter_decisions_total");
    const values = (await metric?.get())?.values ?? [];
    const count = (reason: string, decision: string) => values.find((v) => v.labels.service === "vk" && v.labels.reason === reason && v.labels.decision === decision)?.value;
    assert.equal(count("other-service:tg", "drop"), 1);
    assert.equal(count("spam", "drop"), 1);
    assert.equal(count("own-service", "forward"), 1);
  });
});
