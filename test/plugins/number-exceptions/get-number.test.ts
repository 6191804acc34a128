/**
 * number-exceptions through GET_NUMBER over HTTP on a real hub
 * (test/helpers/hub.ts: emulated modems, LevelDB, the onlinesim plugin): a
 * mask that excludes every number answers NO_NUMBERS, not only zero counts;
 * and the same hub issues numbers once the mask is gone, so NO_NUMBERS is the
 * mask's doing. serviceMasks keyed by a service's name apply to the code a
 * request carries.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { startTestHub, type TestHub } from "../../helpers/hub.ts";
import { waitFor } from "../../helpers/process.ts";
import { API_KEY, post } from "../onlinesim/rig.ts";

const MODEMS = 3;
const SERVICES = ["vk", "tg", "ot"];

function hubConfig(exceptions: Record<string, unknown>): Record<string, unknown> {
  return {
    modems: { emulator: { count: MODEMS } },
    plugins: {
      onlinesim: { enabled: true, apiKey: API_KEY, pushUrl: "http://127.0.0.1:9/unused", services: SERVICES },
      "number-exceptions": { enabled: true, ...exceptions },
    },
  };
}

describe("number-exceptions: GET_NUMBER over HTTP on a real hub", () => {
  let hub: TestHub;
  const getNumber = async (service: string) => (await post(hub.url, { key: API_KEY, action: "GET_NUMBER", country: "russia", operator: "any", service, sum: 5 })).json;
  const counts = async (): Promise<Record<string, number>> => {
    const reply = (await post(hub.url, { key: API_KEY, action: "GET_SERVICES" })).json;
    const list = reply.countryList as { country: string; operatorMap: Record<string, Record<string, number>> }[];
    return list.find((c) => c.country === "russia")?.operatorMap.any ?? {};
  };

  before(async () => {
    hub = await startTestHub({ config: hubConfig({ masks: ["*"] }) });
    assert.ok(hub.hub.plugins.allRunning, JSON.stringify(hub.hub.plugins.list()));
    await waitFor(`${MODEMS} numbers`, async () => (hub.hub.modems.numbers.list().length === MODEMS ? true : undefined));
  });
  after(async () => {
    await hub?.cleanup();
  });

  it('a "*" mask: GET_NUMBER answers NO_NUMBERS for every service, though every number is free', async () => {
    assert.deepEqual(await counts(), { vk: 0, tg: 0, ot: 0 });
    for (const service of [...SERVICES, "telegram"]) assert.deepEqual(await getNumber(service), { status: "NO_NUMBERS" }, service);
  });

  it("without the mask the same hub issues a number; a serviceMasks key given as a name applies to its code", async () => {
    assert.deepEqual(await hub.hub.plugins.reload({ "number-exceptions": { enabled: true, masks: [], serviceMasks: { Telegram: ["*"] } } }), []);
    assert.deepEqual(await counts(), { vk: MODEMS, tg: 0, ot: MODEMS });
    assert.deepEqual(await getNumber("telegram"), { status: "NO_NUMBERS" }, "telegram is tg: excluded");
    assert.deepEqual(await getNumber("tg"), { status: "NO_NUMBERS" });
    const vk = await getNumber("vk");
    assert.equal(vk.status, "SUCCESS", JSON.stringify(vk));
    assert.ok(hub.hub.modems.numbers.list().some((n) => n.msisdn === String(vk.number)), "one of the hub's numbers");
  });
});
