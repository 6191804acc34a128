import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import type { PushJob } from "../../../core/activations/types.ts";
import type { Logger } from "../../../core/log.ts";
import { capturingLogger } from "../../helpers/hub.ts";
import { outboxSublevel } from "../../../core/activations/outbox.ts";
import { deliverMessage, holdBatches, logLine, makeMessage, makeNumbers, nextEvent, type HeldBatches } from "../../core/activations/fixtures.ts";
import { answers, PartnerStub, type Scripted } from "./partner-stub.ts";
import { API_KEY, post, startPluginRig, type PluginRig } from "./rig.ts";

const stubs: PartnerStub[] = [];
after(async () => {
  for (const stub of stubs) await stub.close();
});

async function setup(script: Scripted[], section: Record<string, unknown> = {}, log?: Logger): Promise<{ rig: PluginRig; stub: PartnerStub; activationId: number; msisdn: string }> {
  const stub = await new PartnerStub(script).listen();
  stubs.push(stub);
  const rig = await startPluginRig(makeNumbers(2), { pushUrl: stub.url, retrySeconds: 0.03, pushTimeoutSeconds: 0.3, services: ["ig"], ...section }, {}, log);
  const reply = await post(rig.url, { action: "GET_NUMBER", key: API_KEY, country: "russia", operator: "any", service: "ig", sum: 5 });
  assert.equal(reply.json.status, "SUCCESS");
  return { rig, stub, activationId: reply.json.activationId as number, msisdn: String(reply.json.number) };
}

async function sms(rig: PluginRig, msisdn: string, text: string, extra: { parts?: number } = {}) {
  const number = rig.numbers.byMsisdn(msisdn);
  assert.ok(number);
  const message = { ...makeMessage(number, text, { sender: "Instagram" }), ...(extra.parts ? { parts: extra.parts } : {}) };
  await deliverMessage(rig, message);
  return message;
}

async function job(rig: PluginRig, messageId: string): Promise<PushJob | undefined> {
  return outboxSublevel(rig.store, "onlinesim").get(messageId);
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("onlinesim PUSH_SMS through the durable outbox (partner stub over HTTP)", () => {
  it("sends exactly seed 000's fields and headers, and stops at the partner's SUCCESS", async () => {
    const { rig, stub, activationId, msisdn } = await setup([answers.success()]);
    try {
      const delivered = nextEvent(rig.bus, "push.delivered");
      const message = await sms(rig, msisdn, "Your verification code is 800142");
      await delivered;
      const [push] = stub.received;
      assert.ok(push);
      assert.equal(push.text, JSON.stringify({ smsId: activationId, phoneFrom: "Instagram", phone: msisdn, text: "Your verification code is 800142", action: "PUSH_SMS", key: API_KEY }));
      assert.equal(push.headers["content-type"], "application/json; charset=utf-8");
      assert.equal(push.headers["user-agent"], "simhive/9.9.9-test");
      assert.equal(push.headers["content-encoding"], undefined);
      await pause(150); // five retry intervals: nothing more is sent
      assert.equal(stub.received.length, 1);
      assert.equal((await job(rig, message.messageId))?.state, "done");
    } finally {
      await rig.closeAll();
    }
  });

  it("gzip-encodes the body when pushGzip is set", async () => {
    const { rig, stub, msisdn } = await setup([answers.success()], { pushGzip: true });
    try {
      await sms(rig, msisdn, "код 1234 ✓");
      await stub.waitFor(1);
      assert.equal(stub.received[0]?.headers["content-encoding"], "gzip");
      assert.equal(stub.received[0]?.json.text, "код 1234 ✓");
    } finally {
      await rig.closeAll();
    }
  });

  it("retries a 500, a bad JSON answer, a slow answer and an unknown error, the same body each time, until SUCCESS", async () => {
    const { rig, stub, msisdn } = await setup([answers.serverError(), answers.badJson(), answers.slow(1_500), answers.error("WHATEVER"), answers.success()]);
    try {
      const delivered = nextEvent(rig.bus, "push.delivered");
      const message = await sms(rig, msisdn, "code 5555");
      assert.equal((await delivered).attempts, 5);
      assert.equal(stub.received.length, 5);
      assert.equal(new Set(stub.received.map((r) => r.text)).size, 1, "the same body every time");
      const done = await job(rig, message.messageId);
      assert.equal(done?.state, "done");
      assert.equal(done?.attempts, 5);
      const metric = await rig.metrics.getSingleMetric("simhive_push_attempts_total")?.get();
      const byAnswer = Object.fromEntries(metric?.values.map((v) => [String(v.labels.answer), v.value]) ?? []);
      assert.deepEqual(byAnswer, { "http-500": 1, "bad-json": 1, timeout: 1, ERROR: 1, SUCCESS: 1 });
    } finally {
      await rig.closeAll();
    }
  });

  it("retries while the partner refuses connections, and delivers once it is back", async () => {
    const { rig, stub, msisdn } = await setup([answers.success()]);
    try {
      await stub.refuse();
      const message = await sms(rig, msisdn, "code 6");
      let seen: PushJob | undefined;
      for (let i = 0; i < 400 && !((seen = await job(rig, message.messageId))?.attempts && seen.attempts >= 3); i++) await pause(10);
      assert.equal(seen?.lastAnswer, "refused");
      assert.equal(seen?.state, "pending");
      assert.equal((seen?.nextAttemptAt ?? 0) - (seen?.lastAttemptAt ?? 0), 30, "the next attempt is scheduled retrySeconds after the last");
      const delivered = nextEvent(rig.bus, "push.delivered");
      await stub.accept();
      await delivered;
      assert.equal(stub.received.length, 1);
      assert.ok(((await job(rig, message.messageId))?.attempts ?? 0) >= 4);
    } finally {
      await rig.closeAll();
    }
  });

  it("a 200 without SUCCESS is retried, counted by its code, and warned about once per job, without the text", async () => {
    const capture = capturingLogger();
    const odd = { status: 200, body: JSON.stringify({ status: "ERROR" }) };
    const { rig, activationId, msisdn } = await setup([odd, odd, odd, answers.success()], {}, capture.log);
    try {
      const delivered = nextEvent(rig.bus, "push.delivered");
      await sms(rig, msisdn, "Your code is 246810");
      assert.equal((await delivered).attempts, 4);
      const isOdd = (line: Record<string, unknown>) => line.level === "warn" && /HTTP 200 without status SUCCESS/.test(String(line.msg));
      const warning = await logLine(capture.lines, isOdd, "the odd-answer warning");
      assert.deepEqual([warning.activationId, warning.answer, warning.attempts], [activationId, "ERROR", 1]);
      assert.equal(capture.lines.filter(isOdd).length, 1, "once per job");
      assert.doesNotMatch(capture.raw(), /246810/);
      const metric = await rig.metrics.getSingleMetric("simhive_push_attempts_total")?.get();
      const retried = metric?.values.find((v) => v.labels.answer === "ERROR" && v.labels.outcome === "retry");
      assert.equal(retried?.value, 3);
    } finally {
      await rig.closeAll();
    }
  });

  it("a partner that hangs past the timeout is asked again retrySeconds after the previous attempt started", async () => {
    const { rig, stub, msisdn } = await setup([answers.slow(5_000), answers.success()], { retrySeconds: 0.5, pushTimeoutSeconds: 0.2 });
    try {
      const message = await sms(rig, msisdn, "code 10");
      let seen: PushJob | undefined;
      for (let i = 0; i < 400 && (seen = await job(rig, message.messageId))?.attempts !== 1; i++) await pause(10);
      assert.equal(seen?.lastAnswer, "timeout");
      const received = stub.received[0]?.at ?? 0;
      assert.ok((seen?.lastAttemptAt ?? Infinity) <= received, "lastAttemptAt is the attempt's start, before the partner had it");
      assert.equal((seen?.nextAttemptAt ?? 0) - (seen?.lastAttemptAt ?? 0), 500);
    } finally {
      await rig.closeAll();
    }
  });

  it("nothing reaches the partner while the synced batch holding the job is held", async () => {
    const { rig, stub, msisdn } = await setup([answers.success()]);
    let held: HeldBatches | undefined;
    try {
      const number = rig.numbers.byMsisdn(msisdn);
      assert.ok(number);
      const message = makeMessage(number, "code 11");
      await deliverMessage(rig, message, false); // stored and pending, not announced yet
      held = holdBatches(rig.store, { once: true }); // the route's batch
      rig.bus.emit("sms.received", { message });
      await held.entered;
      // A push sent before the batch would be at the stub well within this; nothing may come.
      await assert.rejects(stub.waitFor(1, 300), /0\/1 requests/);
      held.release();
      await stub.waitFor(1);
      assert.equal(stub.received[0]?.json.text, "code 11");
    } finally {
      held?.restore();
      await rig.closeAll();
    }
  });

  for (const code of ["NO_OPERATION", "NO_OP", "BAD_SERVICE", "IGNORED", "SERVICE_BAN"]) {
    it(`ends the job on ${code}, reason recorded, never sent again`, async () => {
      const { rig, stub, msisdn } = await setup([answers.error(code, code === "NO_OP" ? 400 : 200)]);
      try {
        const gaveUp = nextEvent(rig.bus, "push.gaveUp");
        const message = await sms(rig, msisdn, "code 7");
        assert.equal((await gaveUp).reason, code);
        await pause(150);
        assert.equal(stub.received.length, 1);
        const stopped = await job(rig, message.messageId);
        assert.equal(stopped?.state, "given-up");
        assert.equal(stopped?.stopReason, code);
      } finally {
        await rig.closeAll();
      }
    });
  }

  it("survives a restart mid-retry: delivered once afterwards, not lost", async () => {
    const { rig, stub, msisdn } = await setup([answers.serverError()]);
    try {
      const message = await sms(rig, msisdn, "code 8");
      await stub.waitFor(2);
      await rig.restartAll();
      const attemptsBefore = stub.received.length;
      stub.script([answers.success()]);
      const delivered = nextEvent(rig.bus, "push.delivered");
      await delivered;
      await pause(150);
      assert.equal(stub.received.length, attemptsBefore + 1, "one more request after the restart, then none");
      const done = await job(rig, message.messageId);
      assert.equal(done?.state, "done");
      assert.equal(done?.attempts, attemptsBefore + 1);
    } finally {
      await rig.closeAll();
    }
  });

  it("pushes a multipart message once, whole", async () => {
    const { rig, stub, msisdn } = await setup([answers.success()]);
    try {
      const text = "Your Instagram code is 123456. ".repeat(8).trim();
      await sms(rig, msisdn, text, { parts: 2 });
      await stub.waitFor(1);
      await pause(150);
      assert.equal(stub.received.length, 1);
      assert.equal(stub.received[0]?.json.text, text);
    } finally {
      await rig.closeAll();
    }
  });

  it("does not push an SMS arriving after FINISH_ACTIVATION", async () => {
    const { rig, stub, activationId, msisdn } = await setup([answers.success()]);
    try {
      const finished = await post(rig.url, { action: "FINISH_ACTIVATION", key: API_KEY, activationId, status: 3 });
      assert.deepEqual(finished.json, { status: "SUCCESS" });
      const routed = nextEvent(rig.bus, "sms.routed");
      await sms(rig, msisdn, "late code 9");
      assert.equal((await routed).route.state, "after-finish");
      await pause(150);
      assert.equal(stub.received.length, 0);
    } finally {
      await rig.closeAll();
    }
  });
});
