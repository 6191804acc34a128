/** Conformance with seed 001, the v1 partner API as a whole (see conformance.ts). */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { nextEvent } from "../../core/activations/fixtures.ts";
import { countOf, finish, forwardOne, getNumber, ISSUE, S001, S003, services, withPushRig, withRig, type CountryEntry } from "./conformance.ts";
import { answers } from "./partner-stub.ts";
import { API_KEY, get, post } from "./rig.ts";

describe("seed 001: the v1 partner API", () => {
  it(`${S001}:16 accepts POST and GET requests`, () =>
    withRig(async (rig) => {
      const viaPost = await services(rig);
      const viaGet = await get(rig.url, { action: "GET_SERVICES", key: API_KEY });
      assert.equal(viaPost.json.status, "SUCCESS");
      assert.deepEqual(viaGet.json, viaPost.json);
    }));

  it(`${S001}:61-62 GET_SERVICES needs the key; a missing or wrong one gets BAD_KEY (${S003}:33-34, the customer-side API, names it), and nothing else ${ISSUE}`, () =>
    withRig(async (rig) => {
      for (const key of [undefined, "", "wrong", `${API_KEY}x`, API_KEY.slice(0, -1)]) {
        const reply = await post(rig.url, { action: "GET_SERVICES", ...(key === undefined ? {} : { key }) });
        assert.equal(reply.raw.toString("utf8"), '{"status":"ERROR","error":"BAD_KEY"}');
      }
    }));

  it(`${S001}:70-83 countryList entries: country (string), operatorMap of operator → service → count (int)`, () =>
    withRig(async (rig) => {
      const list = (await services(rig)).json.countryList as CountryEntry[];
      assert.deepEqual(list.map((c) => c.country), ["russia"]);
      const entry = list[0] as CountryEntry;
      assert.deepEqual(entry.operatorMap.mts, { vk: 2, ok: 2, wa: 2 });
      assert.deepEqual(entry.operatorMap.beeline, { vk: 1, ok: 1, wa: 1 });
      for (const byService of Object.values(entry.operatorMap)) for (const value of Object.values(byService)) assert.ok(Number.isInteger(value));
    }));

  it(`${S001}:96 GET_NUMBER with the documented body gets a number`, () =>
    withRig(async (rig) => {
      assert.equal((await getNumber(rig)).json.status, "SUCCESS");
    }));

  it(`${S001}:116 GET_NUMBER reply: number and activationId as JSON numbers`, () =>
    withRig(async (rig) => {
      const reply = await getNumber(rig);
      assert.match(reply.raw.toString("utf8"), /^\{"status":"SUCCESS","number":79160000\d{3},"activationId":\d+\}$/);
      assert.equal(typeof reply.json.number, "number");
      assert.ok(Number.isInteger(reply.json.activationId) && (reply.json.activationId as number) >= 1);
    }));

  it(`${S001}:122,133 GET_NUMBER: {"status":"NO_NUMBERS"} when nothing fits`, () =>
    withRig(async (rig) => {
      for (let i = 0; i < 3; i++) assert.equal((await getNumber(rig)).json.status, "SUCCESS");
      assert.equal((await getNumber(rig)).raw.toString("utf8"), '{"status":"NO_NUMBERS"}');
      assert.equal((await getNumber(rig, { country: "ukraine" })).json.status, "NO_NUMBERS");
    }));

  it(`${S001}:106-108 GET_NUMBER honours country, service and operator`, () =>
    withRig(async (rig) => {
      const beeline = await getNumber(rig, { operator: "beeline" });
      assert.equal(beeline.json.number, 79160000002);
      assert.equal((await getNumber(rig, { operator: "beeline" })).json.status, "NO_NUMBERS");
      assert.equal((await getNumber(rig, { service: "tg" })).json.status, "NO_NUMBERS", "a service not offered");
    }));

  it(`${S001}:234 operator "any" matches every operator`, () =>
    withRig(async (rig) => {
      const numbers = new Set<unknown>();
      for (let i = 0; i < 3; i++) numbers.add((await getNumber(rig, { operator: "any" })).json.number);
      assert.equal(numbers.size, 3);
    }));

  it(`${S001}:145 FINISH_ACTIVATION's example status 2 (outside the table at 160-164) is accepted; it closes without spending the number ${ISSUE}`, () =>
    withRig(async (rig) => {
      const { activationId } = (await getNumber(rig, { operator: "beeline" })).json;
      assert.deepEqual((await finish(rig, activationId, 2)).json, { status: "SUCCESS" });
      assert.equal(countOf(await services(rig), "russia", "beeline", "vk"), 1);
    }));

  it(`${S001}:155 FINISH_ACTIVATION's status as TEXT is accepted (and activationId as text: numeric fields as numbers or strings ${ISSUE})`, () =>
    withRig(async (rig) => {
      const { activationId } = (await getNumber(rig, { operator: "beeline" })).json;
      assert.deepEqual((await finish(rig, String(activationId), "4")).json, { status: "SUCCESS" });
      assert.equal(countOf(await services(rig), "russia", "beeline", "vk"), 1);
    }));

  it(`${S001}:161 status 1: do not get this number for this service again`, () =>
    withRig(async (rig) => {
      const { activationId } = (await getNumber(rig, { operator: "beeline" })).json;
      await finish(rig, activationId, 1);
      const after = await services(rig);
      assert.equal(countOf(after, "russia", "beeline", "vk"), 0);
      assert.equal(countOf(after, "russia", "beeline", "ok"), 1);
      assert.equal((await getNumber(rig, { operator: "beeline" })).json.status, "NO_NUMBERS");
    }));

  it(`${S001}:162 status 3: sold; with seed 004:14, the number is spent for that service only`, () =>
    withRig(async (rig) => {
      const { activationId } = (await getNumber(rig, { operator: "beeline" })).json;
      await finish(rig, activationId, 3);
      const after = await services(rig);
      assert.equal(countOf(after, "russia", "beeline", "vk"), 0);
      assert.equal(countOf(after, "russia", "beeline", "wa"), 1);
    }));

  it(`${S001}:163 status 4: cancelled; with seed 004:14, the count stays unchanged (the number is back)`, () =>
    withRig(async (rig) => {
      const { activationId } = (await getNumber(rig, { operator: "beeline" })).json;
      await finish(rig, activationId, 4);
      assert.equal(countOf(await services(rig), "russia", "beeline", "vk"), 1);
    }));

  it(`${S001}:164 status 5: returned; with seed 004:14 (failed), the count stays unchanged (the number is back)`, () =>
    withRig(async (rig) => {
      const { activationId } = (await getNumber(rig, { operator: "beeline" })).json;
      await finish(rig, activationId, 5);
      assert.equal(countOf(await services(rig), "russia", "beeline", "vk"), 1);
    }));

  it(`${S001}:171,175 FINISH_ACTIVATION answers {status: "SUCCESS"}`, () =>
    withRig(async (rig) => {
      const { activationId } = (await getNumber(rig)).json;
      assert.equal((await finish(rig, activationId, 3)).raw.toString("utf8"), '{"status":"SUCCESS"}');
    }));

  it(`${ISSUE} a repeated FINISH_ACTIVATION answers SUCCESS again; an unknown activationId gets an ERROR (the code NO_ACTIVATION is the hub's)`, () =>
    withRig(async (rig) => {
      const { activationId } = (await getNumber(rig)).json;
      await finish(rig, activationId, 3);
      assert.equal((await finish(rig, activationId, 3)).raw.toString("utf8"), '{"status":"SUCCESS"}');
      assert.equal((await finish(rig, 987_654, 3)).raw.toString("utf8"), '{"status":"ERROR","error":"NO_ACTIVATION"}');
    }));

  it(`${S001}:267 a PUSH_SMS answer other than SUCCESS is sent again`, () =>
    withPushRig(async ({ rig, stub }) => {
      stub.script([answers.error("TRY_LATER"), answers.success()]);
      const delivered = nextEvent(rig.bus, "push.delivered");
      await forwardOne(rig);
      assert.equal((await delivered).attempts, 2);
      assert.equal(stub.received[0]?.text, stub.received[1]?.text);
    }));

  it(`${S001}:267 only status SUCCESS marks an SMS delivered: a 200 {"status":"ERROR"} is sent again (seed 000:5 says any 200 means delivered; the hub keeps 001:267's rule, as issue 4 asks)`, () =>
    withPushRig(async ({ rig, stub }) => {
      stub.script([{ status: 200, body: JSON.stringify({ status: "ERROR" }) }, answers.success()]);
      const delivered = nextEvent(rig.bus, "push.delivered");
      await forwardOne(rig);
      assert.equal((await delivered).attempts, 2);
    }));
});
