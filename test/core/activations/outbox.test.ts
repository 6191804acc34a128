import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { outboxSublevel } from "../../../core/activations/outbox.ts";
import type { DeliveryResult, MarketplaceSink, PushJob } from "../../../core/activations/types.ts";
import { capturingLogger } from "../../helpers/hub.ts";
import { deliverMessage, logLine, makeMessage, makeNumbers, makeRig, nextEvent, type Rig } from "./fixtures.ts";

type Payload = { smsId: number };

/** A sink answering from a script; it notes how many deliveries run at once. */
function scriptedSink(script: (job: PushJob<Payload>) => DeliveryResult | Promise<DeliveryResult>, concurrency = 8, retryIntervalMs = 15) {
  const attempts: { messageId: string; attempt: number }[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const sink: MarketplaceSink<Payload> = {
    retryIntervalMs,
    concurrency,
    buildPayload: (_message, activation) => ({ smsId: activation.activationId }),
    deliver: async (job) => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      attempts.push({ messageId: job.messageId, attempt: job.attempts + 1 });
      try {
        return await script(job);
      } finally {
        inFlight--;
      }
    },
  };
  return { sink, attempts, maxInFlight: () => maxInFlight };
}

async function reserveOn(rig: Rig) {
  const activation = await rig.activations.reserve({ marketplace: "onlinesim", service: "ig", exceptionPrefixes: [] });
  assert.ok(activation);
  const number = rig.numbers.byMsisdn(activation.msisdn);
  assert.ok(number);
  return { activation, number };
}

describe("activations: durable outbox", () => {
  it("retries until the sink says done, recording every answer", async () => {
    const rig = await makeRig(makeNumbers(1));
    try {
      const answers: DeliveryResult[] = [
        { outcome: "retry", answer: "http-500" },
        { outcome: "retry", answer: "timeout" },
        { outcome: "done", answer: "SUCCESS" },
      ];
      const { sink, attempts } = scriptedSink(() => answers.shift() ?? { outcome: "done", answer: "SUCCESS" });
      const outbox = rig.activations.registerMarketplace("onlinesim", sink);
      const { number } = await reserveOn(rig);
      const delivered = nextEvent(rig.bus, "push.delivered");
      const message = makeMessage(number, "code 1");
      await deliverMessage(rig, message);
      assert.equal((await delivered).attempts, 3);
      assert.deepEqual(attempts.map((a) => a.attempt), [1, 2, 3]);
      const [job] = await outbox.list({ messageId: message.messageId });
      assert.equal(job?.state, "done");
      assert.equal(job?.lastAnswer, "SUCCESS");
      assert.equal(job?.attempts, 3);
      const metric = await rig.metrics.getSingleMetric("simhive_push_attempts_total")?.get();
      assert.deepEqual(metric?.values.map((v) => [v.labels.answer, v.value]).sort(), [["SUCCESS", 1], ["http-500", 1], ["timeout", 1]]);
    } finally {
      await rig.close();
    }
  });

  it("ends a job on a stop answer with the reason recorded, and counts it", async () => {
    const rig = await makeRig(makeNumbers(1));
    try {
      const { sink, attempts } = scriptedSink(() => ({ outcome: "stop", reason: "SERVICE_BAN", answer: "SERVICE_BAN" }));
      const outbox = rig.activations.registerMarketplace("onlinesim", sink);
      const { number } = await reserveOn(rig);
      const gaveUp = nextEvent(rig.bus, "push.gaveUp");
      const message = makeMessage(number, "code 2");
      await deliverMessage(rig, message);
      assert.equal((await gaveUp).reason, "SERVICE_BAN");
      const [job] = await outbox.list({ messageId: message.messageId });
      assert.equal(job?.state, "given-up");
      assert.equal(job?.stopReason, "SERVICE_BAN");
      assert.equal(attempts.length, 1, "never attempted again");
      assert.equal(outbox.stats().givenUp, 1);
      assert.equal(outbox.stats().pending, 0);
    } finally {
      await rig.close();
    }
  });

  it("keeps at most `concurrency` deliveries in flight and reports pending and oldest age", async () => {
    const rig = await makeRig(makeNumbers(12));
    try {
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      const { sink, maxInFlight } = scriptedSink(async () => {
        await gate;
        return { outcome: "done", answer: "SUCCESS" };
      }, 3);
      const outbox = rig.activations.registerMarketplace("onlinesim", sink);
      let delivered = 0;
      const all = new Promise<void>((resolve) => rig.bus.on("push.delivered", "test", () => void (++delivered === 12 && resolve())));
      for (let i = 0; i < 12; i++) {
        const { number } = await reserveOn(rig);
        await deliverMessage(rig, makeMessage(number, `code ${i}`));
      }
      await rig.activations.routePending();
      assert.equal(outbox.stats().pending, 12);
      assert.ok(outbox.stats().oldestPendingAt !== undefined);
      const pendingMetric = await rig.metrics.getSingleMetric("simhive_outbox_pending")?.get();
      assert.equal(pendingMetric?.values[0]?.value, 12);
      release();
      await all;
      assert.equal(maxInFlight(), 3);
      assert.equal(outbox.stats().pending, 0);
    } finally {
      await rig.close();
    }
  });

  it("survives a restart mid-retry: the job is delivered once, not lost", async () => {
    const rig = await makeRig(makeNumbers(1));
    try {
      const first = scriptedSink(() => ({ outcome: "retry", answer: "http-500" }), 8, 50);
      const firstOutbox = rig.activations.registerMarketplace("onlinesim", first.sink);
      const { number } = await reserveOn(rig);
      const message = makeMessage(number, "code 3");
      await deliverMessage(rig, message);
      // Wait until the failed attempt is on disk, then stop everything mid-retry.
      for (let i = 0; i < 500 && (await firstOutbox.list({ messageId: message.messageId }))[0]?.attempts !== 1; i++) await new Promise((r) => setTimeout(r, 5));
      await rig.restart();
      const attemptsBefore = first.attempts.length;
      assert.ok(attemptsBefore >= 1);
      const second = scriptedSink(() => ({ outcome: "done", answer: "SUCCESS" }));
      const delivered = nextEvent(rig.bus, "push.delivered");
      const outbox = rig.activations.registerMarketplace("onlinesim", second.sink);
      const event = await delivered;
      assert.equal(event.messageId, message.messageId);
      assert.equal(event.attempts, attemptsBefore + 1, "the attempt count carries over the restart");
      assert.equal(first.attempts.length, attemptsBefore, "the stopped outbox made no attempt after stop");
      await new Promise((r) => setTimeout(r, 100)); // two retry intervals: nothing more may happen
      assert.equal(second.attempts.length, 1, "delivered once");
      const [done] = await outbox.list({ messageId: message.messageId });
      assert.equal(done?.state, "done");
    } finally {
      await rig.close();
    }
  });

  it("schedules the next attempt retryIntervalMs after the previous attempt started, not after its answer", async () => {
    const rig = await makeRig(makeNumbers(1));
    try {
      const calledAt: number[] = [];
      const { sink } = scriptedSink(async () => {
        calledAt.push(Date.now());
        await new Promise((resolve) => setTimeout(resolve, 120)); // a partner that answers late
        return { outcome: "retry", answer: "timeout" };
      }, 8, 60_000);
      const outbox = rig.activations.registerMarketplace("onlinesim", sink);
      const { number } = await reserveOn(rig);
      const message = makeMessage(number, "code 4");
      await deliverMessage(rig, message);
      let job: PushJob | undefined;
      for (let i = 0; i < 500 && (job = (await outbox.list({ messageId: message.messageId }))[0])?.attempts !== 1; i++) await new Promise((r) => setTimeout(r, 10));
      assert.equal(job?.attempts, 1);
      const startedAt = job?.lastAttemptAt ?? 0;
      assert.ok(startedAt <= (calledAt[0] ?? 0), "lastAttemptAt is when the attempt started");
      assert.equal((job?.nextAttemptAt ?? 0) - startedAt, 60_000);
    } finally {
      await rig.close();
    }
  });

  it("warns once, without the text, when a job has been pending longer than 10 minutes", async () => {
    const capture = capturingLogger();
    const rig = await makeRig(makeNumbers(1), {}, undefined, undefined, capture.log);
    try {
      const createdAt = Date.now() - 11 * 60_000;
      const old: PushJob<Payload> = {
        jobId: "m-old",
        marketplace: "onlinesim",
        activationId: 7,
        messageId: "m-old",
        payload: { smsId: 7 },
        createdAt,
        state: "pending",
        attempts: 60,
        nextAttemptAt: createdAt,
      };
      await rig.store.batch([{ type: "put", sublevel: outboxSublevel(rig.store, "onlinesim"), key: old.jobId, value: old }]);
      const { sink, attempts } = scriptedSink(() => ({ outcome: "retry", answer: "http-502" }), 8, 10);
      rig.activations.registerMarketplace("onlinesim", sink);
      const isSlow = (line: Record<string, unknown>) => line.level === "warn" && /pending for more than 10 minutes/.test(String(line.msg));
      const warning = await logLine(capture.lines, isSlow, "the pending warning");
      assert.deepEqual([warning.activationId, warning.messageId, warning.answer], [7, "m-old", "http-502"]);
      for (let i = 0; i < 500 && attempts.length < 4; i++) await new Promise((r) => setTimeout(r, 10));
      assert.ok(attempts.length >= 4);
      assert.equal(capture.lines.filter(isSlow).length, 1, "once per job");
      assert.doesNotMatch(capture.raw(), /"text"/);
    } finally {
      await rig.close();
    }
  });
});
