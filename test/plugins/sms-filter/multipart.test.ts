/**
 * A concatenated SMS goes through the filter whole, on a real hub
 * (test/helpers/hub.ts): serialport-gsm drives the emulated modems, the
 * intake stores each part, the parts are joined from the store, and the
 * joined message meets the sms-filter hook; the onlinesim plugin pushes what
 * it forwards to a partner stub over HTTP.
 *
 * Each message is two UCS-2 parts (67 characters each, Cyrillic) built so
 * that the parts alone would be decided differently from the whole: the code
 * is in part 1, the service's name only in part 2.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { ModemLayerImpl } from "../../../core/modems/index.ts";
import type { EmulatedModem } from "../../../core/modems/emulator/index.ts";
import { startTestHub, type TestHub } from "../../helpers/hub.ts";
import { waitFor } from "../../helpers/process.ts";
import { nextEvent } from "../../core/activations/fixtures.ts";
import { answers, PartnerStub } from "../onlinesim/partner-stub.ts";
import { API_KEY, post } from "../onlinesim/rig.ts";

const MODEMS = 2;
/** Part 1 of each message: 67 UTF-16 units (one UCS-2 part with an 8-bit reference), a code and no service name. */
const PART_1 = "Ваш код подтверждения: 482913. Никому не сообщайте его, даже если в";
const PART_2_VK = "ас просят сотрудники поддержки. Код для входа ВКонтакте.";

describe("sms-filter: a two-part SMS is decided on its joined text, on a real hub", () => {
  let stub: PartnerStub;
  let hub: TestHub;

  before(async () => {
    assert.equal(PART_1.length, 67);
    stub = await new PartnerStub([answers.success()]).listen();
    hub = await startTestHub({
      config: {
        modems: { emulator: { count: MODEMS } },
        plugins: {
          onlinesim: { enabled: true, apiKey: API_KEY, pushUrl: stub.url, services: ["vk", "tg"], retrySeconds: 0.05 },
          "sms-filter": { enabled: true, mode: "on" },
        },
      },
    });
    assert.ok(hub.hub.plugins.allRunning, JSON.stringify(hub.hub.plugins.list()));
    await waitFor(`${MODEMS} numbers`, async () => (hub.hub.modems.numbers.list().length === MODEMS ? true : undefined));
  });
  after(async () => {
    await hub?.cleanup();
    await stub?.close();
  });

  const reserve = async (service: string): Promise<{ activationId: number; msisdn: string }> => {
    const reply = (await post(hub.url, { key: API_KEY, action: "GET_NUMBER", country: "russia", operator: "any", service, sum: 5 })).json;
    assert.equal(reply.status, "SUCCESS", JSON.stringify(reply));
    return { activationId: reply.activationId as number, msisdn: String(reply.number) };
  };
  const modemOf = (msisdn: string): EmulatedModem => {
    for (const modem of (hub.hub.modems as ModemLayerImpl).emulated.values()) if (modem.options.msisdn === msisdn) return modem;
    throw new Error(`no emulated modem with ${msisdn}`);
  };
  /** Injects a two-part SMS (parts in `order`) and resolves with the joined message's part count and route. */
  const inject = async (msisdn: string, text: string, order: number[]) => {
    const modem = modemOf(msisdn);
    const received = nextEvent(hub.hub.bus, "sms.received", (p) => p.message.iccid === modem.options.iccid, 20_000);
    const routed = nextEvent(hub.hub.bus, "sms.routed", (p) => p.iccid === modem.options.iccid, 20_000);
    modem.inject({ sender: "+79161112233", text, order });
    const { message } = await received;
    return { parts: message.parts, text: message.text, route: (await routed).route };
  };

  it("a VK code whose name is in part 2 is dropped on a tg activation (part 1 alone would be forwarded as a code)", async () => {
    const tg = await reserve("tg");
    const { parts, text, route } = await inject(tg.msisdn, PART_1 + PART_2_VK, [1, 2]);
    assert.equal(parts, 2, "the emulator sent two parts and the hub joined them");
    assert.equal(text, PART_1 + PART_2_VK);
    assert.deepEqual([route.state, (route as { reason?: string }).reason], ["dropped", "other-service:vk"]);
  });

  it("the same SMS, parts arriving in reverse order, is forwarded whole and once on a vk activation", async () => {
    const vk = await reserve("vk");
    const delivered = nextEvent(hub.hub.bus, "push.delivered", (p) => p.activationId === vk.activationId, 20_000);
    const { parts, route } = await inject(vk.msisdn, PART_1 + PART_2_VK, [2, 1]);
    assert.equal(parts, 2);
    assert.equal(route.state, "forwarded");
    await delivered;
    assert.deepEqual(
      stub.received.map((push) => [push.json.smsId, push.json.text]),
      [[vk.activationId, PART_1 + PART_2_VK]],
      "one PUSH_SMS with the joined text; nothing from the tg activation",
    );
  });
});
