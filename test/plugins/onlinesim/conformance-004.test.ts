/** Conformance with seed 004, GET_SERVICES in detail (see conformance.ts). */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { holdBatches } from "../../core/activations/fixtures.ts";
import { countOf, finish, getNumber, S001, S004, services, withRig, type CountryEntry } from "./conformance.ts";
import { API_KEY, post } from "./rig.ts";

describe("seed 004: GET_SERVICES in detail", () => {
  it(`${S004}:3 answers at the /getServices path`, () =>
    withRig(async (rig) => {
      assert.equal((await post(rig.url, { action: "GET_SERVICES", key: API_KEY }, { path: "/onlinesim/getServices" })).json.status, "SUCCESS");
      assert.equal((await post(rig.url, { key: API_KEY }, { path: "/onlinesim/getServices" })).json.status, "SUCCESS", "the path names the action");
    }));

  it(`${S004}:10 counts simultaneously usable numbers: reserved ones and vanished modems do not count`, () =>
    withRig(async (rig) => {
      assert.equal(countOf(await services(rig), "russia", "any", "vk"), 3);
      await getNumber(rig, { operator: "beeline" });
      assert.equal(countOf(await services(rig), "russia", "any", "vk"), 2);
      rig.numbers.remove("79160000000");
      assert.equal(countOf(await services(rig), "russia", "any", "vk"), 1);
      assert.equal(countOf(await services(rig), "russia", "mts", "vk"), 1);
    }));

  it(`${S004}:10 the list leaves within 10 seconds: GET_SERVICES is computed from memory, so it answers while every store write hangs`, () =>
    withRig(async (rig) => {
      const held = holdBatches(rig.store); // the disk stops answering
      try {
        const hanging = getNumber(rig);
        await held.entered; // the reservation is marked in memory, its synced write hangs
        const reply = await services(rig);
        assert.equal(reply.json.status, "SUCCESS");
        assert.equal(countOf(reply, "russia", "any", "vk"), 2, "the number being reserved is already out of the count");
        held.release();
        assert.equal((await hanging).json.status, "SUCCESS");
      } finally {
        held.restore();
      }
    }));

  it(`${S004}:12 operatorMap has "any" with the per-service sum over all operators`, () =>
    withRig(async (rig) => {
      const entry = ((await services(rig)).json.countryList as CountryEntry[])[0] as CountryEntry;
      for (const service of ["vk", "ok", "wa"]) {
        const sum = Object.entries(entry.operatorMap)
          .filter(([operator]) => operator !== "any")
          .reduce((total, [, byService]) => total + (byService[service] ?? 0), 0);
        assert.equal(entry.operatorMap.any?.[service], sum);
      }
      assert.equal(entry.operatorMap.any?.vk, 3);
    }));

  it(`${S004}:14 a successful operation reduces the service's count by 1; a cancelled one leaves it unchanged`, () =>
    withRig(async (rig) => {
      const before = countOf(await services(rig), "russia", "any", "ok") ?? 0;
      const sold = await getNumber(rig, { service: "ok" });
      await finish(rig, sold.json.activationId, 3);
      assert.equal(countOf(await services(rig), "russia", "any", "ok"), before - 1);
      const cancelled = await getNumber(rig, { service: "ok" });
      await finish(rig, cancelled.json.activationId, 4);
      assert.equal(countOf(await services(rig), "russia", "any", "ok"), before - 1);
    }));

  it(`${S004}:20-28 the key in "Authorization: Bearer <key>"`, () =>
    withRig(async (rig) => {
      const ok = await post(rig.url, { action: "GET_SERVICES" }, { headers: { authorization: `Bearer ${API_KEY}` } });
      assert.equal(ok.json.status, "SUCCESS");
      const bad = await post(rig.url, { action: "GET_SERVICES" }, { headers: { authorization: "Bearer nope" } });
      assert.deepEqual(bad.json, { status: "ERROR", error: "BAD_KEY" });
    }));

  it(`${S004}:8,40 the key in the payload {"action":"GET_SERVICES","key":"..."}`, () =>
    withRig(async (rig) => {
      assert.equal((await post(rig.url, { action: "GET_SERVICES", key: API_KEY })).json.status, "SUCCESS");
    }));

  it(`${S004}:59-65,72-84 the answer: Content-Type application/json; charset=utf-8, {countryList, status} at the top level (${S001}:35-55 nests it under "list"; the later page wins, seeds/README.md)`, () =>
    withRig(async (rig) => {
      const reply = await services(rig);
      assert.equal(reply.headers.get("content-type"), "application/json; charset=utf-8");
      assert.deepEqual(Object.keys(reply.json).sort(), ["countryList", "status"]);
      assert.equal(reply.json.status, "SUCCESS");
      assert.ok(Array.isArray(reply.json.countryList));
    }));
});
