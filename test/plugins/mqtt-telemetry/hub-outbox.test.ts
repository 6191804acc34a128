/**
 * The stats topic's outbox figures on a real hub across a restart: a push job
 * the partner has not accepted stays on disk, and after the restart it is in
 * `outbox.pending` (read from the outbox itself, not estimated from the bus
 * events of the new run, which has seen none).
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { outboxSublevel } from "../../../core/activations/outbox.ts";
import type { StatsPayload } from "../../../plugins/mqtt-telemetry/payloads.ts";
import { nextEvent } from "../../core/activations/fixtures.ts";
import { answers, PartnerStub } from "../onlinesim/partner-stub.ts";
import { brokerForSuite, clearRetained, Watcher } from "./helpers.ts";
import { API_KEY, emulatedModemOf, post, startRealHub, waitUntil } from "./real-hub.ts";

const broker = brokerForSuite();
let stub: PartnerStub;
before(async () => {
  stub = await new PartnerStub([answers.serverError()]).listen();
});
after(async () => {
  await stub.close();
});

test("a push job pending from before a restart is in the stats payload after it", async () => {
  // One attempt per run: the retry interval is far longer than the test.
  const real = await startRealHub({ brokerUrl: broker.url, pushUrl: stub.url, modems: 1, telemetry: { statsSeconds: 1 }, onlinesim: { retrySeconds: 3600 } });
  let test = real.test;
  const statsTopic = `${real.root}/stats`;
  let watcher: Watcher | undefined;
  try {
    await waitUntil("the emulated number", () => test.hub.modems.numbers.list().length === 1);
    const reply = await post(test.url, { action: "GET_NUMBER", key: API_KEY, country: "russia", operator: "any", service: "vk", sum: 5 });
    assert.equal(reply.json.status, "SUCCESS");
    const routed = nextEvent(test.hub.bus, "sms.routed", undefined, 20_000);
    emulatedModemOf(test, String(reply.json.number)).inject({ sender: "VK", text: "VK: 33708" });
    const route = (await routed).route;
    assert.equal(route.state, "forwarded");
    await stub.waitFor(1); // the partner answered 500: the job stays pending
    const jobs = [];
    for await (const job of outboxSublevel(test.hub.store, "onlinesim").values()) jobs.push(job);
    const [job] = jobs;
    assert.ok(job && jobs.length === 1);
    assert.equal(job.state, "pending");

    test = await test.restart();
    watcher = await Watcher.open(broker.url, [statsTopic]);
    const message = await watcher.waitOn(statsTopic, (p) => (JSON.parse(p) as StatsPayload).outbox.pending === 1, "stats with the pending job");
    const stats = JSON.parse(message.payload) as StatsPayload;
    assert.equal(stats.sms.received, 0, "published by the new run, which has seen no SMS");
    const oldestPendingAt = new Date(job.createdAt).toISOString();
    assert.deepEqual(stats.outbox, {
      pending: 1,
      delivered: 0,
      failed: 0,
      oldestPendingAt,
      marketplaces: { onlinesim: { pending: 1, delivered: 0, failed: 0, oldestPendingAt } },
    });
    assert.equal(stub.received.length, 1, "no second attempt before the retry interval");
  } finally {
    await watcher?.close();
    await test.cleanup();
    await clearRetained(broker.url, [`${real.baseTopic}/#`]);
  }
});
