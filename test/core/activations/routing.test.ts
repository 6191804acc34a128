import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { listActivations, listSms } from "../../../core/activations/index.ts";
import type { DeliveryResult, MarketplaceSink, PushJob } from "../../../core/activations/types.ts";
import type { SmsMessage } from "../../../core/types.ts";
import { deliverMessage, holdBatches, makeMessage, makeNumbers, makeRig, nextEvent, type HeldBatches, type Rig } from "./fixtures.ts";

interface Payload {
  smsId: number;
  phone: string;
  text: string;
}

/** A marketplace sink that records what it is asked to deliver and accepts it. */
function recordingSink(answers: DeliveryResult[] = []): MarketplaceSink<Payload> & { delivered: PushJob<Payload>[] } {
  const delivered: PushJob<Payload>[] = [];
  return {
    delivered,
    retryIntervalMs: 20,
    concurrency: 2,
    buildPayload: (message, activation) => ({ smsId: activation.activationId, phone: activation.msisdn, text: message.text }),
    deliver: async (job) => {
      delivered.push(job);
      return answers.shift() ?? { outcome: "done", answer: "SUCCESS" };
    },
  };
}

async function routed(rig: Rig, message: SmsMessage): Promise<SmsMessage["route"]> {
  const event = nextEvent(rig.bus, "sms.routed", (p) => p.messageId === message.messageId);
  await deliverMessage(rig, message);
  return (await event).route;
}

describe("activations: SMS routing", () => {
  it("forwards an SMS on a reserved number: route and push job in one batch, then delivered", async () => {
    const numbers = makeNumbers(2);
    const rig = await makeRig(numbers);
    try {
      const sink = recordingSink();
      const outbox = rig.activations.registerMarketplace("onlinesim", sink);
      const activation = await rig.activations.reserve({ marketplace: "onlinesim", service: "ig", exceptionPrefixes: [] });
      assert.ok(activation);
      const number = numbers.find((n) => n.msisdn === activation.msisdn);
      assert.ok(number);
      const message = makeMessage(number, "Your code is 800142");
      const delivered = nextEvent(rig.bus, "push.delivered");
      const route = await routed(rig, message);
      assert.equal(route?.state, "forwarded");
      // On disk with the route before any attempt: the job is there as soon as the route is.
      const jobs = await outbox.list({ messageId: message.messageId });
      assert.equal(jobs.length, 1);
      assert.equal((await delivered).activationId, activation.activationId);
      assert.deepEqual(sink.delivered[0]?.payload, { smsId: activation.activationId, phone: activation.msisdn, text: "Your code is 800142" });
      assert.equal((await rig.messages.get(message.messageId))?.route?.state, "forwarded");
      assert.equal((await rig.messages.listPending()).length, 0);
      const [job] = await outbox.list({ activationId: activation.activationId });
      assert.equal(job?.state, "done");
      assert.equal(outbox.stats().delivered, 1);
    } finally {
      await rig.close();
    }
  });

  it("a push job is on disk before its first attempt: nothing is delivered while the route's synced batch is held", async () => {
    const numbers = makeNumbers(1);
    const rig = await makeRig(numbers);
    let held: HeldBatches | undefined;
    try {
      const sink = recordingSink();
      const outbox = rig.activations.registerMarketplace("onlinesim", sink);
      assert.ok(await rig.activations.reserve({ marketplace: "onlinesim", service: "ig", exceptionPrefixes: [] }));
      const message = makeMessage(numbers[0]!, "code 31");
      await deliverMessage(rig, message, false); // stored and pending, not announced yet
      held = holdBatches(rig.store, { once: true }); // the route's batch
      const delivered = nextEvent(rig.bus, "push.delivered");
      rig.bus.emit("sms.received", { message });
      await held.entered;
      assert.equal(sink.delivered.length, 0, "nothing was attempted before the route and its job were written");
      await new Promise((resolve) => setImmediate(resolve));
      assert.equal(sink.delivered.length, 0, "nor while the batch is held");
      assert.deepEqual(await outbox.list({ messageId: message.messageId }), [], "the job is not on disk yet");
      held.release();
      assert.equal((await delivered).messageId, message.messageId);
      assert.equal(sink.delivered.length, 1);
    } finally {
      held?.restore();
      await rig.close();
    }
  });

  it("stores but does not push an SMS with no activation, or arriving after FINISH", async () => {
    const numbers = makeNumbers(2);
    const rig = await makeRig(numbers);
    try {
      const sink = recordingSink();
      rig.activations.registerMarketplace("onlinesim", sink);
      const free = numbers[1];
      assert.ok(free);
      const activation = await rig.activations.reserve({ marketplace: "onlinesim", service: "ig", exceptionPrefixes: [], country: "russia" });
      assert.ok(activation);
      const used = numbers.find((n) => n.msisdn === activation.msisdn) ?? free;
      const other = numbers.find((n) => n.msisdn !== activation.msisdn) ?? free;
      assert.equal((await routed(rig, makeMessage(other, "spam")))?.state, "no-activation");
      await rig.activations.finish("onlinesim", activation.activationId, 3, "sold");
      const late = await routed(rig, makeMessage(used, "late code 1234"));
      assert.deepEqual(late && { state: late.state, activationId: "activationId" in late ? late.activationId : 0 }, { state: "after-finish", activationId: activation.activationId });
      assert.equal(sink.delivered.length, 0);
      assert.equal((await rig.messages.listPending()).length, 0);
    } finally {
      await rig.close();
    }
  });

  it("does not forward to an activation an SMS that arrived before it started", async () => {
    const numbers = makeNumbers(1);
    const rig = await makeRig(numbers);
    try {
      const sink = recordingSink();
      rig.activations.registerMarketplace("onlinesim", sink);
      const activation = await rig.activations.reserve({ marketplace: "onlinesim", service: "ig", exceptionPrefixes: [] });
      assert.ok(activation);
      // Read from the SIM only now (e.g. found by the storage sweep), but it reached the hub before the reservation.
      const before = makeMessage(numbers[0]!, "old code", { receivedAt: activation.createdAt - 60_000 });
      assert.equal((await routed(rig, before))?.state, "no-activation");
      assert.equal(sink.delivered.length, 0);
    } finally {
      await rig.close();
    }
  });

  it("applies the smsFilter hooks: drop and hold are recorded, not pushed", async () => {
    const numbers = makeNumbers(1);
    const rig = await makeRig(numbers);
    try {
      const sink = recordingSink();
      rig.activations.registerMarketplace("onlinesim", sink);
      rig.hooks.smsFilter.register("sms-filter", (message) =>
        message.text.includes("bank") ? { action: "drop", reason: "service-mismatch" } : message.text.includes("?") ? { action: "hold", reason: "unsure" } : { action: "forward" },
      );
      const activation = await rig.activations.reserve({ marketplace: "onlinesim", service: "ig", exceptionPrefixes: [] });
      assert.ok(activation);
      const dropped = await routed(rig, makeMessage(numbers[0]!, "your bank code 1"));
      assert.deepEqual(dropped && "reason" in dropped ? [dropped.state, dropped.reason] : [], ["dropped", "service-mismatch"]);
      const held = await routed(rig, makeMessage(numbers[0]!, "code?"));
      assert.deepEqual(held && "reason" in held ? [held.state, held.reason] : [], ["held", "unsure"]);
      assert.equal(sink.delivered.length, 0);
    } finally {
      await rig.close();
    }
  });

  it("routes messages left pending at start, and waits for a marketplace that is not running", async () => {
    const numbers = makeNumbers(1);
    const rig = await makeRig(numbers);
    try {
      const activation = await rig.activations.reserve({ marketplace: "onlinesim", service: "ig", exceptionPrefixes: [] });
      assert.ok(activation);
      const message = makeMessage(numbers[0]!, "code 42");
      await deliverMessage(rig, message, false); // on disk, pending, never announced (a crash)
      await rig.restart();
      await rig.activations.routePending();
      assert.equal((await rig.messages.get(message.messageId))?.route?.state, "pending", "no onlinesim sink yet: it waits");
      const sink = recordingSink();
      const delivered = nextEvent(rig.bus, "push.delivered");
      rig.activations.registerMarketplace("onlinesim", sink);
      assert.equal((await delivered).messageId, message.messageId);
      assert.equal(sink.delivered.length, 1);
      // Routing it once more (event and scan racing) does not push it twice.
      rig.bus.emit("sms.received", { message });
      await rig.activations.routePending();
      assert.equal((await rig.activations.registerMarketplace("onlinesim", sink).list()).length, 1);
    } finally {
      await rig.close();
    }
  });

  it("shows activations and messages to the operator, texts hidden unless asked", async () => {
    const numbers = makeNumbers(1);
    const rig = await makeRig(numbers);
    try {
      const sink = recordingSink([{ outcome: "stop", reason: "NO_OPERATION", answer: "NO_OPERATION" }]);
      rig.activations.registerMarketplace("onlinesim", sink);
      const activation = await rig.activations.reserve({ marketplace: "onlinesim", service: "ig", exceptionPrefixes: [] });
      assert.ok(activation);
      const gaveUp = nextEvent(rig.bus, "push.gaveUp");
      await deliverMessage(rig, makeMessage(numbers[0]!, "secret code 777"));
      assert.equal((await gaveUp).reason, "NO_OPERATION");
      const activations = await listActivations(rig.store);
      assert.match(activations, new RegExp(`^${activation.activationId}\\s+onlinesim\\s+${activation.msisdn}\\s+ig\\s+active`, "m"));
      const hidden = await listSms(rig.store);
      assert.match(hidden, /forwarded/);
      assert.match(hidden, /NO_OPERATION/);
      assert.doesNotMatch(hidden, /secret code/);
      assert.match(await listSms(rig.store, { showText: true }), /secret code 777/);
    } finally {
      await rig.close();
    }
  });
});
