/** Conformance with seed 000, the PUSH_SMS webhook (see conformance.ts). */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { outboxSublevel } from "../../../core/activations/outbox.ts";
import { nextEvent } from "../../core/activations/fixtures.ts";
import { forwardOne, ISSUE, S000, S001, withPushRig } from "./conformance.ts";
import { answers } from "./partner-stub.ts";
import { API_KEY, validatedConfig } from "./rig.ts";

describe("seed 000: the PUSH_SMS webhook", () => {
  it(`${S000}:4 an SMS on a number with an active operation is pushed`, () =>
    withPushRig(async ({ rig, stub }) => {
      await forwardOne(rig);
      await stub.waitFor(1);
      assert.equal(stub.received[0]?.json.action, "PUSH_SMS");
    }));

  it(`${S000}:5 a 200 {"status":"SUCCESS"} answer marks the SMS delivered: it is not sent again`, () =>
    withPushRig(async ({ rig, stub }) => {
      const delivered = nextEvent(rig.bus, "push.delivered");
      const { message } = await forwardOne(rig);
      await delivered;
      await new Promise((r) => setTimeout(r, 150)); // five retry intervals: nothing more is sent
      assert.equal(stub.received.length, 1);
      assert.equal((await outboxSublevel(rig.store, "onlinesim").get(message.messageId))?.state, "done");
    }));

  it(`${S000}:6 a non-200 answer: the same request again after the retry interval (10 s by default)`, () =>
    withPushRig(async ({ rig, stub }) => {
      assert.equal(validatedConfig({ apiKey: "k", pushUrl: "https://example.org/push" }).retrySeconds, 10);
      stub.script([answers.serverError(), answers.serverError(), answers.success()]);
      const delivered = nextEvent(rig.bus, "push.delivered");
      await forwardOne(rig);
      assert.equal((await delivered).attempts, 3);
      assert.equal(new Set(stub.received.map((r) => r.text)).size, 1);
    }));

  it(`${S000}:6 an answer other than 200 is sent again even when its body says {"status":"SUCCESS"}`, () =>
    withPushRig(async ({ rig, stub }) => {
      stub.script([{ status: 500, body: JSON.stringify({ status: "SUCCESS" }) }, answers.success()]);
      const delivered = nextEvent(rig.bus, "push.delivered");
      await forwardOne(rig);
      assert.equal((await delivered).attempts, 2);
      assert.equal(stub.received.length, 2);
    }));

  const stops = [
    ["6-7,11", "NO_OPERATION", ""],
    ["11-12", "NO_OP", " (written as NO_OPERATION's other name)"],
    ["7,14", "BAD_SERVICE", ""],
    ["16-17", "IGNORED", `: the line defines it, but 6-7 exempt only NO_OPERATION and BAD_SERVICE; ending the job on it is ${ISSUE}`],
    ["18-19", "SERVICE_BAN", `: the line defines it, but 6-7 exempt only NO_OPERATION and BAD_SERVICE; ending the job on it is ${ISSUE}`],
  ] as const;
  for (const [line, code, note] of stops) {
    it(`${S000}:${line} ${code} ends the push, reason recorded${note}`, () =>
      withPushRig(async ({ rig, stub }) => {
        stub.script([answers.error(code)]);
        const gaveUp = nextEvent(rig.bus, "push.gaveUp");
        await forwardOne(rig);
        assert.equal((await gaveUp).reason, code);
        await new Promise((r) => setTimeout(r, 120));
        assert.equal(stub.received.length, 1);
      }));
  }

  it(`${S000}:9,23-27 Content-Type: application/json; charset=utf-8`, () =>
    withPushRig(async ({ rig, stub }) => {
      await forwardOne(rig);
      await stub.waitFor(1);
      assert.equal(stub.received[0]?.headers["content-type"], "application/json; charset=utf-8");
    }));

  it(`${S000}:33-47 the body: smsId (int ≥ 1), phoneFrom, phone (string), text, action PUSH_SMS, key — and nothing else`, () =>
    withPushRig(async ({ rig, stub }) => {
      const { activationId, msisdn } = await forwardOne(rig, "Your verification code is 800142");
      await stub.waitFor(1);
      const body = stub.received[0]?.json ?? {};
      assert.deepEqual(Object.keys(body), ["smsId", "phoneFrom", "phone", "text", "action", "key"]);
      assert.deepEqual(body, { smsId: activationId, phoneFrom: "Instagram", phone: msisdn, text: "Your verification code is 800142", action: "PUSH_SMS", key: API_KEY });
      assert.ok(Number.isInteger(body.smsId) && (body.smsId as number) >= 1);
      assert.equal(typeof body.phone, "string", `000:40 (string) wins over ${S001}:199 (INT)`);
    }));
});
