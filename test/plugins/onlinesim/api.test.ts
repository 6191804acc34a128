import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { makeNumbers } from "../../core/activations/fixtures.ts";
import { normaliseServices } from "../../../plugins/onlinesim/services.ts";
import { API_KEY, get, post, startPluginRig, validatedConfig, type PluginRig } from "./rig.ts";

async function withRig(run: (rig: PluginRig) => Promise<void>, section: Record<string, unknown> = {}, count = 3): Promise<void> {
  const rig = await startPluginRig(makeNumbers(count), { services: ["vk", "whatsapp"], ...section });
  try {
    await run(rig);
  } finally {
    await rig.closeAll();
  }
}

describe("onlinesim API: transport and auth", () => {
  it("takes the key from the apikey query parameter, and from key on GET", () =>
    withRig(async (rig) => {
      assert.equal((await get(rig.url, { action: "GET_SERVICES", apikey: API_KEY })).json.status, "SUCCESS");
      assert.equal((await get(rig.url, { action: "GET_SERVICES", key: API_KEY })).json.status, "SUCCESS");
      const bad = await get(rig.url, { action: "GET_SERVICES", apikey: "nope" });
      assert.equal(bad.status, 401);
      assert.equal(bad.raw.toString("utf8"), '{"status":"ERROR","error":"BAD_KEY"}');
    }));

  it("refuses addresses outside allowFrom with the BAD_KEY body, even with the right key", async () => {
    await withRig(async (rig) => {
      assert.equal((await post(rig.url, { action: "GET_SERVICES", key: API_KEY })).json.status, "SUCCESS");
    }, { allowFrom: ["10.0.0.0/8", "127.0.0.1"] });
    await withRig(async (rig) => {
      const denied = await post(rig.url, { action: "GET_SERVICES", key: API_KEY });
      assert.equal(denied.status, 403);
      assert.deepEqual(denied.json, { status: "ERROR", error: "BAD_KEY" });
    }, { allowFrom: ["10.0.0.0/8"] });
  });

  it("rejects an unknown action and a malformed GET_NUMBER, naming the field", () =>
    withRig(async (rig) => {
      const unknown = await post(rig.url, { action: "GET_BALANCE", key: API_KEY });
      assert.equal(unknown.status, 400);
      assert.deepEqual(unknown.json, { status: "ERROR", error: "BAD_ACTION" });
      const missing = await post(rig.url, { action: "GET_NUMBER", key: API_KEY, country: "russia" });
      assert.equal(missing.status, 400);
      assert.equal(missing.json.error, "BAD_REQUEST");
      assert.match(String(missing.json.message), /service/);
      const badSet = await post(rig.url, { action: "GET_NUMBER", key: API_KEY, service: "vk", exceptionPhoneSet: ["79a"] });
      assert.equal(badSet.status, 400);
      assert.match(String(badSet.json.message), /exceptionPhoneSet/);
      const badFinish = await post(rig.url, { action: "FINISH_ACTIVATION", key: API_KEY, activationId: "abc", status: 3 });
      assert.equal(badFinish.status, 400);
    }));

  it("accepts numeric fields as strings and exceptionPhoneSet as a comma list on GET", () =>
    withRig(async (rig) => {
      const reply = await get(rig.url, { action: "GET_NUMBER", key: API_KEY, service: "vk", sum: "40", exceptionPhoneSet: "79160000000,79160000001" });
      assert.equal(reply.json.number, 79160000002);
    }));

  it("normalises service names and aliases in config and requests", () =>
    withRig(async (rig) => {
      assert.deepEqual(normaliseServices(["VKontakte", "vk", "facebook", "FB", "WhatsApp", "someservice"]), ["vk", "fb", "wa", "someservice"]);
      const reply = await post(rig.url, { action: "GET_SERVICES", key: API_KEY });
      const [entry] = reply.json.countryList as { operatorMap: Record<string, Record<string, number>> }[];
      assert.deepEqual(Object.keys(entry?.operatorMap.any ?? {}), ["vk", "wa"]);
      const issued = await post(rig.url, { action: "GET_NUMBER", key: API_KEY, service: "whatsapp" });
      assert.equal(issued.json.status, "SUCCESS");
      const activation = await rig.activations.get(issued.json.activationId as number);
      assert.equal(activation?.service, "wa");
    }));

  it("fills config defaults and refuses a config without apiKey or a valid pushUrl", () => {
    const config = validatedConfig({ apiKey: "k", pushUrl: "https://partner.example/push" });
    assert.deepEqual(
      { path: config.path, retrySeconds: config.retrySeconds, pushConcurrency: config.pushConcurrency, pushGzip: config.pushGzip },
      { path: "/onlinesim", retrySeconds: 10, pushConcurrency: 8, pushGzip: false },
    );
    assert.throws(() => validatedConfig({ pushUrl: "https://partner.example/push" }), /apiKey/);
    assert.throws(() => validatedConfig({ apiKey: "k", pushUrl: "not a url" }), /pushUrl/);
    assert.throws(() => validatedConfig({ apiKey: "k", pushUrl: "https://x.example", extra: 1 }), /additional/);
  });

  it("answers GET_NUMBER and FINISH_ACTIVATION at the sub-paths /getNumber and /finishActivation too (issue 4, not in the seeds: seed 004:3 names /getServices only)", () =>
    withRig(async (rig) => {
      const number = await post(rig.url, { key: API_KEY, service: "vk" }, { path: "/onlinesim/getNumber" });
      assert.equal(number.json.status, "SUCCESS");
      const finished = await post(rig.url, { key: API_KEY, activationId: number.json.activationId, status: 5 }, { path: "/onlinesim/finishActivation" });
      assert.deepEqual(finished.json, { status: "SUCCESS" });
      assert.equal((await rig.activations.get(number.json.activationId as number))?.finishReason, "refunded");
    }));

  it("serves under a configured path", () =>
    withRig(async (rig) => {
      assert.equal((await post(rig.url, { action: "GET_SERVICES", key: API_KEY }, { path: "/partner/os" })).json.status, "SUCCESS");
      const old = await fetch(`${rig.url}/onlinesim`, { method: "POST", body: "{}", headers: { "content-type": "application/json" } });
      assert.equal(old.status, 404);
      await old.arrayBuffer();
    }, { path: "/partner/os" }));
});

describe("onlinesim API: numbers", () => {
  it("200 parallel GET_NUMBER on 50 numbers give exactly 50 distinct numbers and ids", () =>
    withRig(
      async (rig) => {
        const replies = await Promise.all(Array.from({ length: 200 }, () => post(rig.url, { action: "GET_NUMBER", key: API_KEY, service: "vk", operator: "any", country: "russia" })));
        const issued = replies.filter((r) => r.json.status === "SUCCESS");
        assert.equal(issued.length, 50);
        assert.equal(replies.filter((r) => r.json.status === "NO_NUMBERS").length, 150);
        assert.equal(new Set(issued.map((r) => r.json.number)).size, 50);
        assert.equal(new Set(issued.map((r) => r.json.activationId)).size, 50);
      },
      {},
      50,
    ));

  it("GET_SERVICES follows GET_NUMBER, FINISH 1/3/4/5 and a number going away", () =>
    withRig(
      async (rig) => {
        const vk = async () => {
          const reply = await post(rig.url, { action: "GET_SERVICES", key: API_KEY });
          return (reply.json.countryList as { operatorMap: Record<string, Record<string, number>> }[])[0]?.operatorMap.any?.vk;
        };
        const take = async () => (await post(rig.url, { action: "GET_NUMBER", key: API_KEY, service: "vk" })).json;
        const finish = (activationId: unknown, status: number) => post(rig.url, { action: "FINISH_ACTIVATION", key: API_KEY, activationId, status });
        assert.equal(await vk(), 5);
        const a = await take();
        assert.equal(await vk(), 4, "reserved");
        await finish(a.activationId, 4);
        assert.equal(await vk(), 5, "cancelled: back");
        const b = await take();
        await finish(b.activationId, 5);
        assert.equal(await vk(), 5, "refunded: back");
        const c = await take();
        await finish(c.activationId, 3);
        assert.equal(await vk(), 4, "sold: spent for vk");
        const d = await take();
        await finish(d.activationId, 1);
        assert.equal(await vk(), 3, "refused: never again for vk");
        const free = rig.numbers.list().find((n) => n.msisdn !== String(c.number) && n.msisdn !== String(d.number));
        assert.ok(free);
        rig.numbers.remove(free.msisdn);
        assert.equal(await vk(), 2, "its modem went away");
        const metric = await rig.metrics.getSingleMetric("simhive_onlinesim_numbers_available")?.get();
        assert.equal(metric?.values.find((v) => v.labels.service === "vk")?.value, 2);
      },
      {},
      5,
    ));

  it("FINISH_ACTIVATION 3 records the sum it is given (as a number or a string), else GET_NUMBER's", () =>
    withRig(async (rig) => {
      const take = async () => (await post(rig.url, { action: "GET_NUMBER", key: API_KEY, service: "vk", sum: 12 })).json;
      const finish = (activationId: unknown, sum?: unknown) => post(rig.url, { action: "FINISH_ACTIVATION", key: API_KEY, activationId, status: 3, ...(sum === undefined ? {} : { sum }) });
      const a = await take();
      assert.deepEqual((await finish(a.activationId, 40)).json, { status: "SUCCESS" });
      assert.equal(rig.activations.history(String(a.number), "vk")?.lastSum, 40);
      const b = await take();
      await finish(b.activationId, "41.5");
      assert.equal(rig.activations.history(String(b.number), "vk")?.lastSum, 41.5);
      const c = await take();
      await finish(c.activationId);
      assert.equal(rig.activations.history(String(c.number), "vk")?.lastSum, 12, "no sum in FINISH: GET_NUMBER's price");
    }));

  it("counts requests per action and answer", () =>
    withRig(async (rig) => {
      await post(rig.url, { action: "GET_SERVICES", key: API_KEY });
      await post(rig.url, { action: "GET_SERVICES", key: "bad" });
      await post(rig.url, { action: "GET_NUMBER", key: API_KEY, service: "tg" });
      const metric = await rig.metrics.getSingleMetric("simhive_onlinesim_requests_total")?.get();
      const seen = Object.fromEntries(metric?.values.map((v) => [`${v.labels.action}/${v.labels.status}`, v.value]) ?? []);
      assert.deepEqual(seen, { "GET_SERVICES/SUCCESS": 1, "GET_SERVICES/BAD_KEY": 1, "GET_NUMBER/NO_NUMBERS": 1 });
    }));
});
