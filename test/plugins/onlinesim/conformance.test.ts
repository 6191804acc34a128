/**
 * Conformance with the partner's own API pages (../shared/seeds/), requirement
 * by requirement; each test names the file and line it checks. Where 001 and
 * 000/004 disagree, the later, more specific page wins (seeds/README.md) and
 * the hub accepts both shapes.
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { outboxSublevel } from "../../../core/activations/outbox.ts";
import type { Store } from "../../../core/store/store.ts";
import onlinesim from "../../../plugins/onlinesim/index.ts";
import { deliverMessage, makeMessage, makeNumbers, nextEvent } from "../../core/activations/fixtures.ts";
import { answers, PartnerStub } from "./partner-stub.ts";
import { API_KEY, get, post, rawPost, startPluginRig, validatedConfig, type Answer, type PluginRig } from "./rig.ts";

const S000 = "seeds/000_7990ec69e049a8ed.txt";
const S001 = "seeds/001_cc347ba0061bec64.txt";
const S002 = "seeds/002_60e3cc46207c8cd7.txt";
const S004 = "seeds/004_8bdcabcb3e4b568c.txt";

const stubs: PartnerStub[] = [];
after(async () => {
  for (const stub of stubs) await stub.close();
});

type CountryEntry = { country: string; operatorMap: Record<string, Record<string, number>> };

function countOf(answer: Answer, country: string, operator: string, service: string): number | undefined {
  const entry = (answer.json.countryList as CountryEntry[]).find((c) => c.country === country);
  return entry?.operatorMap[operator]?.[service];
}

async function withRig(run: (rig: PluginRig) => Promise<void>, section: Record<string, unknown> = {}, count = 3): Promise<void> {
  const rig = await startPluginRig(
    makeNumbers(count, { operator: (i) => (i % 3 === 2 ? "beeline" : "mts") }),
    { services: ["vk", "ok", "wa"], ...section },
  );
  try {
    await run(rig);
  } finally {
    await rig.closeAll();
  }
}

const services = (rig: PluginRig) => post(rig.url, { action: "GET_SERVICES", key: API_KEY });
const getNumber = (rig: PluginRig, extra: Record<string, unknown> = {}) =>
  post(rig.url, { action: "GET_NUMBER", country: "russia", operator: "any", service: "vk", sum: 40, key: API_KEY, ...extra });
const finish = (rig: PluginRig, activationId: unknown, status: unknown) => post(rig.url, { action: "FINISH_ACTIVATION", activationId, status, key: API_KEY });

async function pushRig(): Promise<{ rig: PluginRig; stub: PartnerStub }> {
  const stub = await new PartnerStub([answers.success()]).listen();
  stubs.push(stub);
  const rig = await startPluginRig(makeNumbers(1), { services: ["ig"], pushUrl: stub.url, retrySeconds: 0.03, pushTimeoutSeconds: 0.5 });
  return { rig, stub };
}

async function forwardOne(rig: PluginRig, text = "Your verification code is 800142") {
  const reply = await post(rig.url, { action: "GET_NUMBER", key: API_KEY, service: "ig", operator: "any", country: "russia", sum: 1 });
  assert.equal(reply.json.status, "SUCCESS");
  const number = rig.numbers.byMsisdn(String(reply.json.number));
  assert.ok(number);
  const message = makeMessage(number, text, { sender: "Instagram" });
  await deliverMessage(rig, message);
  return { activationId: reply.json.activationId as number, msisdn: number.msisdn, message };
}

describe("seed 001: the v1 partner API", () => {
  it(`${S001}:16 accepts POST and GET requests`, () =>
    withRig(async (rig) => {
      const viaPost = await services(rig);
      const viaGet = await get(rig.url, { action: "GET_SERVICES", key: API_KEY });
      assert.equal(viaPost.json.status, "SUCCESS");
      assert.deepEqual(viaGet.json, viaPost.json);
    }));

  it(`${S001}:61-62 GET_SERVICES needs action and key; a wrong key gets BAD_KEY and nothing else`, () =>
    withRig(async (rig) => {
      for (const key of [undefined, "", "wrong", `${API_KEY}x`, API_KEY.slice(0, -1)]) {
        const reply = await post(rig.url, { action: "GET_SERVICES", ...(key === undefined ? {} : { key }) });
        assert.equal(reply.raw.toString("utf8"), '{"status":"ERROR","error":"BAD_KEY"}');
      }
    }));

  it(`${S001}:37-53,72-83 GET_SERVICES: countryList of {country, operatorMap: operator → service → int}`, () =>
    withRig(async (rig) => {
      const reply = await services(rig);
      assert.equal(reply.json.status, "SUCCESS");
      const list = reply.json.countryList as CountryEntry[];
      assert.deepEqual(list.map((c) => c.country), ["russia"]);
      const entry = list[0] as CountryEntry;
      assert.deepEqual(entry.operatorMap.mts, { vk: 2, ok: 2, wa: 2 });
      assert.deepEqual(entry.operatorMap.beeline, { vk: 1, ok: 1, wa: 1 });
      for (const byService of Object.values(entry.operatorMap)) for (const value of Object.values(byService)) assert.ok(Number.isInteger(value));
    }));

  it(`${S001}:96 GET_NUMBER with the documented body gets a number`, () =>
    withRig(async (rig) => {
      const reply = await getNumber(rig);
      assert.equal(reply.json.status, "SUCCESS");
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
      const none = await getNumber(rig);
      assert.equal(none.raw.toString("utf8"), '{"status":"NO_NUMBERS"}');
      assert.equal((await getNumber(rig, { country: "ukraine" })).json.status, "NO_NUMBERS");
    }));

  it(`${S001}:106-109 GET_NUMBER honours country, operator and service`, () =>
    withRig(async (rig) => {
      const beeline = await getNumber(rig, { operator: "beeline" });
      assert.equal(beeline.json.number, 79160000002);
      assert.equal((await getNumber(rig, { operator: "beeline" })).json.status, "NO_NUMBERS");
      assert.equal((await getNumber(rig, { service: "tg" })).json.status, "NO_NUMBERS", "a service not offered");
    }));

  it(`${S001}:234 operator "any" matches every operator`, () =>
    withRig(async (rig) => {
      const operators = new Set<unknown>();
      for (let i = 0; i < 3; i++) operators.add((await getNumber(rig, { operator: "any" })).json.number);
      assert.equal(operators.size, 3);
    }));

  it(`${S001}:145 FINISH_ACTIVATION's example (status 2, outside the table) closes without spending`, () =>
    withRig(async (rig) => {
      const { activationId } = (await getNumber(rig, { operator: "beeline" })).json;
      assert.deepEqual((await finish(rig, activationId, 2)).json, { status: "SUCCESS" });
      assert.equal(countOf(await services(rig), "russia", "beeline", "vk"), 1);
    }));

  it(`${S001}:155 FINISH_ACTIVATION status (and activationId) as text are accepted`, () =>
    withRig(async (rig) => {
      const { activationId } = (await getNumber(rig, { operator: "beeline" })).json;
      assert.deepEqual((await finish(rig, String(activationId), "4")).json, { status: "SUCCESS" });
      assert.equal(countOf(await services(rig), "russia", "beeline", "vk"), 1);
    }));

  it(`${S001}:161 status 1: never this number for this service again`, () =>
    withRig(async (rig) => {
      const { activationId } = (await getNumber(rig, { operator: "beeline" })).json;
      await finish(rig, activationId, 1);
      const after = await services(rig);
      assert.equal(countOf(after, "russia", "beeline", "vk"), 0);
      assert.equal(countOf(after, "russia", "beeline", "ok"), 1);
      assert.equal((await getNumber(rig, { operator: "beeline" })).json.status, "NO_NUMBERS");
    }));

  it(`${S001}:162 status 3: sold, spent for that service`, () =>
    withRig(async (rig) => {
      const { activationId } = (await getNumber(rig, { operator: "beeline" })).json;
      await finish(rig, activationId, 3);
      const after = await services(rig);
      assert.equal(countOf(after, "russia", "beeline", "vk"), 0);
      assert.equal(countOf(after, "russia", "beeline", "wa"), 1);
    }));

  it(`${S001}:163 status 4: cancelled, back in the pool`, () =>
    withRig(async (rig) => {
      const { activationId } = (await getNumber(rig, { operator: "beeline" })).json;
      await finish(rig, activationId, 4);
      assert.equal(countOf(await services(rig), "russia", "beeline", "vk"), 1);
    }));

  it(`${S001}:164 status 5: returned, back in the pool`, () =>
    withRig(async (rig) => {
      const { activationId } = (await getNumber(rig, { operator: "beeline" })).json;
      await finish(rig, activationId, 5);
      assert.equal(countOf(await services(rig), "russia", "beeline", "vk"), 1);
    }));

  it(`${S001}:171,175 FINISH_ACTIVATION answers {status: "SUCCESS"}, a repeat too; an unknown id is an ERROR`, () =>
    withRig(async (rig) => {
      const { activationId } = (await getNumber(rig)).json;
      assert.equal((await finish(rig, activationId, 3)).raw.toString("utf8"), '{"status":"SUCCESS"}');
      assert.equal((await finish(rig, activationId, 3)).raw.toString("utf8"), '{"status":"SUCCESS"}');
      assert.equal((await finish(rig, 987_654, 3)).raw.toString("utf8"), '{"status":"ERROR","error":"NO_ACTIVATION"}');
    }));

  it(`${S001}:267 a PUSH_SMS answer other than SUCCESS is sent again`, async () => {
    const { rig, stub } = await pushRig();
    try {
      stub.script([answers.error("TRY_LATER"), answers.success()]);
      const delivered = nextEvent(rig.bus, "push.delivered");
      await forwardOne(rig);
      assert.equal((await delivered).attempts, 2);
      assert.equal(stub.received[0]?.text, stub.received[1]?.text);
    } finally {
      await rig.closeAll();
    }
  });
});

describe("seed 000: the PUSH_SMS webhook", () => {
  it(`${S000}:4 an SMS on a number with an active operation is pushed`, async () => {
    const { rig, stub } = await pushRig();
    try {
      await forwardOne(rig);
      await stub.waitFor(1);
      assert.equal(stub.received[0]?.json.action, "PUSH_SMS");
    } finally {
      await rig.closeAll();
    }
  });

  it(`${S000}:5 a 200 answer marks the SMS delivered; it is not sent again`, async () => {
    const { rig, stub } = await pushRig();
    try {
      const delivered = nextEvent(rig.bus, "push.delivered");
      const { message } = await forwardOne(rig);
      await delivered;
      await new Promise((r) => setTimeout(r, 150));
      assert.equal(stub.received.length, 1);
      assert.equal((await outboxSublevel(rig.store as Store, "onlinesim").get(message.messageId))?.state, "done");
    } finally {
      await rig.closeAll();
    }
  });

  it(`${S000}:6 a non-200 answer: the same request again after the retry interval (10 s by default)`, async () => {
    assert.equal(validatedConfig({ apiKey: "k", pushUrl: "https://example.org/push" }).retrySeconds, 10);
    const { rig, stub } = await pushRig();
    try {
      stub.script([answers.serverError(), answers.serverError(), answers.success()]);
      const delivered = nextEvent(rig.bus, "push.delivered");
      await forwardOne(rig);
      assert.equal((await delivered).attempts, 3);
      assert.deepEqual(stub.received.map((r) => r.text).filter((t, i, all) => all.indexOf(t) === i).length, 1);
    } finally {
      await rig.closeAll();
    }
  });

  for (const [line, code] of [["6-7,11", "NO_OPERATION"], ["12", "NO_OP"], ["7,14", "BAD_SERVICE"], ["16", "IGNORED"], ["18", "SERVICE_BAN"]] as const) {
    it(`${S000}:${line} ${code} ends the push, reason recorded`, async () => {
      const { rig, stub } = await pushRig();
      try {
        stub.script([answers.error(code)]);
        const gaveUp = nextEvent(rig.bus, "push.gaveUp");
        await forwardOne(rig);
        assert.equal((await gaveUp).reason, code);
        await new Promise((r) => setTimeout(r, 120));
        assert.equal(stub.received.length, 1);
      } finally {
        await rig.closeAll();
      }
    });
  }

  it(`${S000}:9,23-27 Content-Type: application/json; charset=utf-8`, async () => {
    const { rig, stub } = await pushRig();
    try {
      await forwardOne(rig);
      await stub.waitFor(1);
      assert.equal(stub.received[0]?.headers["content-type"], "application/json; charset=utf-8");
    } finally {
      await rig.closeAll();
    }
  });

  it(`${S000}:33-47 the body: smsId (int ≥ 1), phoneFrom, phone (string), text, action PUSH_SMS, key — and nothing else`, async () => {
    const { rig, stub } = await pushRig();
    try {
      const { activationId, msisdn } = await forwardOne(rig, "Your verification code is 800142");
      await stub.waitFor(1);
      const body = stub.received[0]?.json ?? {};
      assert.deepEqual(Object.keys(body), ["smsId", "phoneFrom", "phone", "text", "action", "key"]);
      assert.deepEqual(body, { smsId: activationId, phoneFrom: "Instagram", phone: msisdn, text: "Your verification code is 800142", action: "PUSH_SMS", key: API_KEY });
      assert.ok(Number.isInteger(body.smsId) && (body.smsId as number) >= 1);
      assert.equal(typeof body.phone, "string", "000:40 (string) wins over 001:199 (INT)");
    } finally {
      await rig.closeAll();
    }
  });

  it(`${S000}:53-57 only status SUCCESS in a 200 answer counts as delivered`, async () => {
    const { rig, stub } = await pushRig();
    try {
      stub.script([{ status: 200, body: JSON.stringify({ status: "ERROR" }) }, answers.success()]);
      const delivered = nextEvent(rig.bus, "push.delivered");
      await forwardOne(rig);
      assert.equal((await delivered).attempts, 2);
    } finally {
      await rig.closeAll();
    }
  });
});

describe("seed 002: v1 requirements", () => {
  it(`${S002}:13-14 requests and answers are JSON in UTF-8`, () =>
    withRig(async (rig) => {
      const reply = await post(rig.url, { action: "GET_SERVICES", key: API_KEY });
      assert.equal(reply.headers.get("content-type"), "application/json; charset=utf-8");
    }));

  it(`${S002}:15 PUSH_SMS carries a User-Agent`, async () => {
    const { rig, stub } = await pushRig();
    try {
      await forwardOne(rig);
      await stub.waitFor(1);
      assert.equal(stub.received[0]?.headers["user-agent"], "simhive/9.9.9-test");
    } finally {
      await rig.closeAll();
    }
  });

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

  it(`${S002}:19 number exceptions: exceptionPhoneSet prefixes (ints or strings) are never issued`, () =>
    withRig(async (rig) => {
      const reply = await getNumber(rig, { exceptionPhoneSet: [79160000000, "+79160000001"] });
      assert.equal(reply.json.number, 79160000002);
      assert.equal((await getNumber(rig, { exceptionPhoneSet: ["7916"] })).json.status, "NO_NUMBERS");
    }));

  it(`${S002}:20 every SMS on a number with an active operation is forwarded`, async () => {
    const { rig, stub } = await pushRig();
    try {
      const { msisdn } = await forwardOne(rig, "first");
      const number = rig.numbers.byMsisdn(msisdn);
      assert.ok(number);
      await deliverMessage(rig, makeMessage(number, "second"));
      await stub.waitFor(2);
      assert.deepEqual(stub.received.map((r) => r.json.text).sort(), ["first", "second"]);
    } finally {
      await rig.closeAll();
    }
  });

  it(`${S002}:22 GET_NUMBER answers in time even when the reservation hangs, and the number is not lost`, () =>
    withRig(
      async (rig) => {
        // The fault real parts will not show on demand: a synced write that takes seconds.
        const realBatch = rig.store.batch.bind(rig.store);
        let release!: () => void;
        const gate = new Promise<void>((resolve) => (release = resolve));
        (rig.store as { batch: Store["batch"] }).batch = async (ops) => {
          await gate;
          return realBatch(ops);
        };
        const reply = await getNumber(rig);
        assert.deepEqual(reply.json, { status: "NO_NUMBERS" });
        const released = nextEvent(rig.bus, "activation.finished");
        release();
        assert.equal((await released).reason, "closed");
        (rig.store as { batch: Store["batch"] }).batch = realBatch;
        assert.equal(countOf(await services(rig), "russia", "mts", "vk"), 1, "the late reservation is released");
      },
      { answerTimeoutSeconds: 0.2 },
      1,
    ));
});

describe("seed 004: GET_SERVICES in detail", () => {
  it(`${S004}:3 answers at the /getServices path (and /getNumber, /finishActivation)`, () =>
    withRig(async (rig) => {
      assert.equal((await post(rig.url, { key: API_KEY }, { path: "/onlinesim/getServices" })).json.status, "SUCCESS");
      const number = await post(rig.url, { key: API_KEY, service: "vk" }, { path: "/onlinesim/getNumber" });
      assert.equal(number.json.status, "SUCCESS");
      const finished = await post(rig.url, { key: API_KEY, activationId: number.json.activationId, status: 5 }, { path: "/onlinesim/finishActivation" });
      assert.deepEqual(finished.json, { status: "SUCCESS" });
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

  it(`${S004}:12 operatorMap has "any" with the per-service sum over all operators`, () =>
    withRig(async (rig) => {
      const reply = await services(rig);
      const entry = (reply.json.countryList as CountryEntry[])[0] as CountryEntry;
      for (const service of ["vk", "ok", "wa"]) {
        const sum = Object.entries(entry.operatorMap).filter(([op]) => op !== "any").reduce((total, [, byService]) => total + (byService[service] ?? 0), 0);
        assert.equal(entry.operatorMap.any?.[service], sum);
      }
      assert.equal(entry.operatorMap.any?.vk, 3);
    }));

  it(`${S004}:14 a successful operation reduces the service's count by 1; a cancelled one leaves it unchanged`, () =>
    withRig(async (rig) => {
      const before = countOf(await services(rig), "russia", "any", "ok");
      const sold = await getNumber(rig, { service: "ok" });
      await finish(rig, sold.json.activationId, 3);
      assert.equal(countOf(await services(rig), "russia", "any", "ok"), (before ?? 0) - 1);
      const cancelled = await getNumber(rig, { service: "ok" });
      await finish(rig, cancelled.json.activationId, 4);
      assert.equal(countOf(await services(rig), "russia", "any", "ok"), (before ?? 0) - 1);
    }));

  it(`${S004}:20-28 the key in "Authorization: Bearer <key>"`, () =>
    withRig(async (rig) => {
      const ok = await post(rig.url, { action: "GET_SERVICES" }, { headers: { authorization: `Bearer ${API_KEY}` } });
      assert.equal(ok.json.status, "SUCCESS");
      const bad = await post(rig.url, { action: "GET_SERVICES" }, { headers: { authorization: "Bearer nope" } });
      assert.deepEqual(bad.json, { status: "ERROR", error: "BAD_KEY" });
    }));

  it(`${S004}:40 the payload {"action":"GET_SERVICES","key":"..."}`, () =>
    withRig(async (rig) => {
      assert.equal((await post(rig.url, { action: "GET_SERVICES", key: API_KEY })).json.status, "SUCCESS");
    }));

  it(`${S004}:59-65,72-84 the answer: Content-Type application/json; charset=utf-8, countryList and status`, () =>
    withRig(async (rig) => {
      const reply = await services(rig);
      assert.equal(reply.headers.get("content-type"), "application/json; charset=utf-8");
      assert.deepEqual(Object.keys(reply.json).sort(), ["countryList", "status"]);
      assert.equal(reply.json.status, "SUCCESS");
    }));
});
