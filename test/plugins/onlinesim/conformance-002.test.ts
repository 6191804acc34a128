/** Conformance with seed 002, the v1 requirements (see conformance.ts). */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import onlinesim from "../../../plugins/onlinesim/index.ts";
import { deliverMessage, holdBatches, makeMessage, makeNumbers, nextEvent } from "../../core/activations/fixtures.ts";
import { capturingLogger } from "../../helpers/hub.ts";
import { countOf, finish, forwardOne, getNumber, ISSUE, S001, S002, services, withPushRig, withRig, type CountryEntry } from "./conformance.ts";
import { API_KEY, post, rawPost, startPluginRig } from "./rig.ts";

/** Seed 001's attachments: the country list (206-227) and the operator list (231-248). */
const COUNTRIES = [
  "egypt", "netherlands", "france", "united_kingdom", "poland", "kazakhstan", "gambia", "ivory", "nigeria", "chad", "cameroon", "estonia",
  "belorussia", "ukraine", "serbia", "haiti", "iraq", "yemen", "azerbaijan", "kyrgyzstan", "uzbekistan", "usa", "russia", "sweden", "germany",
  "malaysia", "indonesia", "philippines", "vietnam", "china", "myanmar", "kenya", "tanzania", "lithuania", "latvia", "croatia", "hongkong", "israeli",
];
const OPERATORS = ["any", "megafon", "beeline", "tele2", "mts", "rostelecom", "activ", "altel", "aiva", "sber", "yota", "simsim", "life", "kyivstar", "orange"];

describe("seed 002: v1 requirements", () => {
  it(`${S002}:13-14 requests and answers are JSON in UTF-8`, () =>
    withRig(async (rig) => {
      const reply = await post(rig.url, { action: "GET_SERVICES", key: API_KEY });
      assert.equal(reply.headers.get("content-type"), "application/json; charset=utf-8");
    }));

  it(`${S002}:15 PUSH_SMS carries a User-Agent`, () =>
    withPushRig(async ({ rig, stub }) => {
      await forwardOne(rig);
      await stub.waitFor(1);
      assert.equal(stub.received[0]?.headers["user-agent"], "simhive/9.9.9-test");
    }));

  it(`${S002}:16 gzip both ways: gzip request bodies are read, answers are gzip when accepted, PUSH_SMS can be gzip`, async () => {
    await withRig(async (rig) => {
      const gzipped = await post(rig.url, { action: "GET_NUMBER", key: API_KEY, service: "vk", operator: "any", country: "russia" }, { gzip: true });
      assert.equal(gzipped.json.status, "SUCCESS");
      const compressed = await rawPost(rig.url, { action: "GET_SERVICES", key: API_KEY }, "gzip");
      assert.equal(compressed.encoding, "gzip");
      assert.equal((JSON.parse(compressed.body) as { status: string }).status, "SUCCESS");
      const plain = await rawPost(rig.url, { action: "GET_SERVICES", key: API_KEY }, "identity");
      assert.equal(plain.encoding, undefined);
      assert.equal(plain.body, compressed.body);
    });
    assert.equal((onlinesim.configSchema.properties as Record<string, { type: string }>).pushGzip?.type, "boolean");
  });

  it(`${S002}:17 country and operator names in GET_SERVICES come from the lists (${S001}:206-248): a SIM of unknown country is left out, one of unknown operator counts only under "any"`, async () => {
    // What core/modems reports for SIMs whose MCC/MNC is not in its table.
    const numbers = [
      ...makeNumbers(1),
      ...makeNumbers(1, { base: 79_990_000_000, country: "unknown", operator: "unknown" }),
      ...makeNumbers(1, { base: 79_980_000_000, operator: "unknown" }),
    ];
    const rig = await startPluginRig(numbers, { services: ["vk"] });
    try {
      const reply = await services(rig);
      const list = reply.json.countryList as CountryEntry[];
      for (const { country, operatorMap } of list) {
        assert.ok(COUNTRIES.includes(country), `country ${country}`);
        for (const operator of Object.keys(operatorMap)) assert.ok(OPERATORS.includes(operator), `operator ${operator}`);
      }
      assert.deepEqual(list, [{ country: "russia", operatorMap: { any: { vk: 2 }, mts: { vk: 1 } } }]);
      const issued = [await getNumber(rig), await getNumber(rig), await getNumber(rig)].map((r) => r.json.number);
      assert.deepEqual(issued.slice(0, 2).sort(), [79_160_000_000, 79_980_000_000], "what is counted is what is issued");
      assert.equal(issued[2], undefined, "the SIM of unknown country is never issued");
    } finally {
      await rig.closeAll();
    }
  });

  it(`${S002}:17 service names: a configured service the hub does not know as a marketplace code is warned about at start (${S001}:252-257 lists only "ot" and refers to others)`, async () => {
    const capture = capturingLogger();
    const rig = await startPluginRig(makeNumbers(1), { services: ["vkontakte", "tg", "ot", "madeup"] }, {}, capture.log);
    try {
      const warnings = capture.lines.filter((line) => line.level === "warn" && Array.isArray(line.services));
      assert.equal(warnings.length, 1);
      assert.deepEqual(warnings[0]?.services, ["madeup"]);
      assert.match(String(warnings[0]?.msg), /GET_SERVICES/);
    } finally {
      await rig.closeAll();
    }
  });

  it(`${S002}:18 a number serves one operation at a time, for any service`, () =>
    withRig(
      async (rig) => {
        const first = await getNumber(rig, { service: "vk" });
        assert.equal(first.json.status, "SUCCESS");
        assert.equal((await getNumber(rig, { service: "wa" })).json.status, "NO_NUMBERS");
        assert.equal(countOf(await services(rig), "russia", "mts", "wa"), 0);
        await finish(rig, first.json.activationId, 3);
        assert.equal((await getNumber(rig, { service: "wa" })).json.number, first.json.number);
      },
      {},
      1,
    ));

  it(`${S002}:19 number exceptions are never issued; the request's exceptionPhoneSet (prefixes, integers or strings) is ${ISSUE}`, () =>
    withRig(async (rig) => {
      assert.equal(rig.hooks.numberFilter.size, 0, "no number-exceptions plugin: core applies the request's exceptions");
      const reply = await getNumber(rig, { exceptionPhoneSet: [79160000000, "+7 916 000-00-01"] });
      assert.equal(reply.json.number, 79160000002);
      assert.equal((await getNumber(rig, { exceptionPhoneSet: ["7916"] })).json.status, "NO_NUMBERS");
    }));

  it(`${S002}:20 every SMS on a number with an active operation is forwarded`, () =>
    withPushRig(async ({ rig, stub }) => {
      const { msisdn } = await forwardOne(rig, "first");
      const number = rig.numbers.byMsisdn(msisdn);
      assert.ok(number);
      await deliverMessage(rig, makeMessage(number, "second"));
      await stub.waitFor(2);
      assert.deepEqual(stub.received.map((r) => r.json.text).sort(), ["first", "second"]);
    }));

  it(`${S002}:22 GET_NUMBER answers in time even when the reservation hangs, and the number is not lost`, () =>
    withRig(
      async (rig) => {
        const held = holdBatches(rig.store); // a synced write that takes seconds
        try {
          const reply = await getNumber(rig);
          assert.deepEqual(reply.json, { status: "NO_NUMBERS" });
          const released = nextEvent(rig.bus, "activation.finished");
          held.release();
          assert.equal((await released).reason, "closed");
        } finally {
          held.restore();
        }
        assert.equal(countOf(await services(rig), "russia", "mts", "vk"), 1, "the late reservation is released");
      },
      { answerTimeoutSeconds: 0.2 },
      1,
    ));
});
