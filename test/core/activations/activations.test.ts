import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { activationsConfigSchema } from "../../../core/activations/index.ts";
import type { NumberRequest } from "../../../core/activations/types.ts";
import { silentLogger } from "../../../core/log.ts";
import type { Store } from "../../../core/store/store.ts";
import { capturingLogger } from "../../helpers/hub.ts";
import { logLine, makeNumbers, makeRig, nextEvent } from "./fixtures.ts";

const request = (service: string, extra: Partial<NumberRequest> = {}): NumberRequest => ({ marketplace: "onlinesim", service, exceptionPrefixes: [], ...extra });

function count(rig: { activations: { counts: (m: string, s: readonly string[]) => Map<string, Map<string, Map<string, number>>> } }, service: string, country = "russia", operator = "mts"): number {
  return rig.activations.counts("onlinesim", [service]).get(country)?.get(operator)?.get(service) ?? 0;
}

describe("activations: counts and reservations", () => {
  it("counts free numbers per country/operator/service and takes a reserved number out", async () => {
    const rig = await makeRig(makeNumbers(4, { operator: (i) => (i < 3 ? "mts" : "beeline") }));
    try {
      const tree = rig.activations.counts("onlinesim", ["vk", "wa"]);
      assert.equal(tree.get("russia")?.get("mts")?.get("vk"), 3);
      assert.equal(tree.get("russia")?.get("beeline")?.get("wa"), 1);
      const activation = await rig.activations.reserve(request("vk", { operator: "beeline" }));
      assert.ok(activation);
      assert.equal(activation.operator, "beeline");
      assert.equal(count(rig, "wa", "russia", "beeline"), 0, "a number serves one activation at a time, for every service");
      assert.equal(count(rig, "vk"), 3);
    } finally {
      await rig.close();
    }
  });

  it("honours country and operator ('any' matches all)", async () => {
    const rig = await makeRig([...makeNumbers(1, { country: "kazakhstan", operator: "altel" }), ...makeNumbers(1, { base: 79_990_000_000 })]);
    try {
      assert.equal(await rig.activations.reserve(request("vk", { country: "ukraine" })), null);
      assert.equal(await rig.activations.reserve(request("vk", { country: "russia", operator: "beeline" })), null);
      const kz = await rig.activations.reserve(request("vk", { country: "kazakhstan", operator: "any" }));
      assert.equal(kz?.operator, "altel");
      const any = await rig.activations.reserve(request("vk", { operator: "any" }));
      assert.equal(any?.country, "russia");
      assert.equal(await rig.activations.reserve(request("vk")), null, "both numbers are taken");
    } finally {
      await rig.close();
    }
  });

  it("never issues a number matching an exception prefix, even without any hook", async () => {
    const rig = await makeRig([...makeNumbers(1, { base: 79_080_000_000 }), ...makeNumbers(1, { base: 79_160_000_000 })]);
    try {
      const first = await rig.activations.reserve(request("vk", { exceptionPrefixes: ["7908"] }));
      assert.equal(first?.msisdn, "79160000000");
      assert.equal(await rig.activations.reserve(request("vk", { exceptionPrefixes: ["7908"] })), null);
    } finally {
      await rig.close();
    }
  });

  it("asks the numberFilter hooks in counts() and reserve(), with the request", async () => {
    const rig = await makeRig(makeNumbers(3));
    try {
      const seen: NumberRequest[] = [];
      rig.hooks.numberFilter.register("number-exceptions", (candidate, req) => {
        seen.push(req);
        return !(req.service === "vk" && candidate.msisdn === "79160000000");
      });
      assert.equal(count(rig, "vk"), 2);
      assert.equal(count(rig, "wa"), 3);
      assert.ok(seen.every((r) => r.exceptionPrefixes.length === 0), "counts() passes empty exceptionPrefixes");
      const issued = new Set<string>();
      for (let i = 0; i < 3; i++) {
        const activation = await rig.activations.reserve(request("vk", { exceptionPrefixes: ["7999"] }));
        if (activation) issued.add(activation.msisdn);
      }
      assert.deepEqual([...issued].sort(), ["79160000001", "79160000002"]);
      assert.ok(seen.some((r) => r.exceptionPrefixes[0] === "7999"), "reserve() hands the request's prefixes to the hook");
    } finally {
      await rig.close();
    }
  });

  it("200 concurrent reservations on 50 numbers give exactly 50 distinct numbers", async () => {
    const rig = await makeRig(makeNumbers(50));
    try {
      const results = await Promise.all(Array.from({ length: 200 }, () => rig.activations.reserve(request("vk"))));
      const issued = results.filter((a) => a !== null);
      assert.equal(issued.length, 50);
      assert.equal(new Set(issued.map((a) => a.msisdn)).size, 50);
      assert.equal(new Set(issued.map((a) => a.activationId)).size, 50);
      assert.equal(count(rig, "vk"), 0);
    } finally {
      await rig.close();
    }
  });

  it("activation ids are positive, increasing and never reused after a restart", async () => {
    const rig = await makeRig(makeNumbers(2));
    try {
      const a = await rig.activations.reserve(request("vk"));
      const b = await rig.activations.reserve(request("vk"));
      assert.ok(a && b && a.activationId >= 1 && b.activationId > a.activationId);
      await rig.activations.finish("onlinesim", a.activationId, 5, "refunded");
      await rig.restart();
      const active = await rig.activations.get(b.activationId);
      assert.equal(active?.state, "active", "active activations survive a restart");
      assert.equal(count(rig, "vk"), 1, "the still-active number stays out of the counts after a restart");
      const c = await rig.activations.reserve(request("vk"));
      assert.ok(c && c.activationId > b.activationId);
      assert.equal(c.msisdn, a.msisdn);
    } finally {
      await rig.close();
    }
  });

  it("rolls a reservation back when its batch cannot be written", async () => {
    const rig = await makeRig(makeNumbers(1));
    try {
      // The one fault a real store will not show on demand: a failing synced write.
      const realBatch = rig.store.batch.bind(rig.store);
      let failNext = true;
      (rig.store as { batch: Store["batch"] }).batch = async (ops) => {
        if (failNext) {
          failNext = false;
          throw new Error("disk full");
        }
        return realBatch(ops);
      };
      await assert.rejects(rig.activations.reserve(request("vk")), /disk full/);
      assert.equal(count(rig, "vk"), 1, "the number is back in the pool");
      const retry = await rig.activations.reserve(request("vk"));
      assert.ok(retry, "and can be issued");
      assert.ok(retry.activationId >= 2, "the failed id is not reused");
    } finally {
      await rig.close();
    }
  });

  it("a number that disappears is no longer counted nor issued", async () => {
    const rig = await makeRig(makeNumbers(2));
    try {
      assert.equal(count(rig, "vk"), 2);
      rig.numbers.remove("79160000000");
      assert.equal(count(rig, "vk"), 1);
      const activation = await rig.activations.reserve(request("vk"));
      assert.equal(activation?.msisdn, "79160000001");
      assert.equal(await rig.activations.reserve(request("vk")), null);
    } finally {
      await rig.close();
    }
  });
});

describe("activations: finish and history", () => {
  it("sold (3) spends the number for that service only, and records the sum", async () => {
    const rig = await makeRig(makeNumbers(1));
    try {
      const activation = await rig.activations.reserve(request("vk", { sum: 12 }));
      assert.ok(activation);
      const finished = nextEvent(rig.bus, "activation.finished");
      const result = await rig.activations.finish("onlinesim", activation.activationId, 3, "sold", { sum: 40 });
      assert.deepEqual(await finished, { activationId: activation.activationId, marketplace: "onlinesim", msisdn: activation.msisdn, service: "vk", status: 3, reason: "sold" });
      assert.ok(result.found && !result.alreadyFinished && result.activation.finishReason === "sold");
      assert.equal(count(rig, "vk"), 0);
      assert.equal(count(rig, "wa"), 1);
      assert.equal(rig.activations.history(activation.msisdn, "vk")?.lastSum, 40);
      assert.equal(await rig.activations.reserve(request("vk")), null);
      await rig.restart();
      assert.equal(count(rig, "vk"), 0, "history survives a restart");
      assert.equal(count(rig, "wa"), 1);
    } finally {
      await rig.close();
    }
  });

  it("refused (1) never offers the number for that service again", async () => {
    const rig = await makeRig(makeNumbers(1));
    try {
      const activation = await rig.activations.reserve(request("wa"));
      assert.ok(activation);
      await rig.activations.finish("onlinesim", activation.activationId, 1, "refused");
      assert.equal(count(rig, "wa"), 0);
      assert.equal(count(rig, "vk"), 1);
      assert.equal(await rig.activations.reserve(request("wa")), null);
    } finally {
      await rig.close();
    }
  });

  it("cancelled (4) returns the number and counts up to cancelLimit", async () => {
    const rig = await makeRig(makeNumbers(1), { cancelLimit: 2 });
    try {
      for (let i = 0; i < 2; i++) {
        assert.equal(count(rig, "tg"), 1);
        const activation = await rig.activations.reserve(request("tg"));
        assert.ok(activation);
        await rig.activations.finish("onlinesim", activation.activationId, 4, "cancelled");
      }
      assert.equal(rig.activations.history("79160000000", "tg")?.cancellations, 2);
      assert.equal(count(rig, "tg"), 0, "at the limit the number is no longer offered for the service");
      assert.equal(count(rig, "vk"), 1);
    } finally {
      await rig.close();
    }
  });

  it("refunded (5) and other statuses return the number without history", async () => {
    const rig = await makeRig(makeNumbers(1));
    try {
      for (const [status, reason] of [[5, "refunded"], [2, "closed"]] as const) {
        const activation = await rig.activations.reserve(request("vk"));
        assert.ok(activation);
        await rig.activations.finish("onlinesim", activation.activationId, status, reason);
        assert.equal(count(rig, "vk"), 1);
      }
      assert.equal(rig.activations.history("79160000000", "vk"), undefined);
    } finally {
      await rig.close();
    }
  });

  it("finish is idempotent, and unknown or foreign ids are not found", async () => {
    const rig = await makeRig(makeNumbers(1));
    try {
      const activation = await rig.activations.reserve(request("vk"));
      assert.ok(activation);
      let events = 0;
      rig.bus.on("activation.finished", "test", () => void events++);
      const [first, second] = await Promise.all([
        rig.activations.finish("onlinesim", activation.activationId, 4, "cancelled"),
        rig.activations.finish("onlinesim", activation.activationId, 4, "cancelled"),
      ]);
      assert.ok(first.found && second.found);
      assert.equal([first, second].filter((r) => r.found && r.alreadyFinished).length, 1);
      const third = await rig.activations.finish("onlinesim", activation.activationId, 3, "sold");
      assert.ok(third.found && third.alreadyFinished && third.activation.finishReason === "cancelled");
      assert.equal(events, 1);
      assert.equal(rig.activations.history(activation.msisdn, "vk")?.cancellations, 1, "a repeat counts nothing");
      assert.deepEqual(await rig.activations.finish("onlinesim", 999_999, 3, "sold"), { found: false });
      assert.deepEqual(await rig.activations.finish("smshub", activation.activationId, 3, "sold"), { found: false });
    } finally {
      await rig.close();
    }
  });

  it("the stale safety net releases forgotten activations with a warning and a metric", async () => {
    const capture = capturingLogger();
    const rig = await makeRig(makeNumbers(1), { staleActivationHours: 0.2 / 3600, staleCheckSeconds: 0.05 }, undefined, undefined, capture.log);
    try {
      const activation = await rig.activations.reserve(request("vk"));
      assert.ok(activation);
      const finished = await nextEvent(rig.bus, "activation.finished");
      assert.equal(finished.reason, "stale");
      const warning = await logLine(capture.lines, (line) => line.level === "warn" && line.activationId === activation.activationId, "the stale warning");
      assert.match(String(warning.msg), /never finished by the marketplace/);
      assert.deepEqual([warning.marketplace, warning.msisdn, warning.service], ["onlinesim", activation.msisdn, "vk"]);
      assert.equal((await rig.activations.get(activation.activationId))?.finishReason, "stale");
      assert.equal(count(rig, "vk"), 1, "the number is back, nothing spent");
      const metric = await rig.metrics.getSingleMetric("simhive_activations_stale_total")?.get();
      assert.equal(metric?.values[0]?.value, 1);
    } finally {
      await rig.close();
    }
  });

  it("lists recent activations newest first and prunes finished ones past retention", async () => {
    const rig = await makeRig(makeNumbers(3));
    try {
      const a = await rig.activations.reserve(request("vk"));
      const b = await rig.activations.reserve(request("vk"));
      const c = await rig.activations.reserve(request("vk"));
      assert.ok(a && b && c);
      await rig.activations.finish("onlinesim", a.activationId, 3, "sold");
      await rig.activations.finish("onlinesim", c.activationId, 5, "refunded");
      assert.deepEqual((await rig.activations.listRecent(10)).map((x) => x.activationId), [c.activationId, b.activationId, a.activationId]);
      assert.deepEqual((await rig.activations.listRecent(10, { state: "active" })).map((x) => x.activationId), [b.activationId]);
      const removed = await rig.store.prune(0, silentLogger(), Date.now() + 1000);
      assert.equal(removed.activations, 1, "only the finished, non-newest activation goes");
      assert.equal(await rig.activations.get(a.activationId), undefined);
      assert.equal((await rig.activations.get(b.activationId))?.state, "active");
      assert.equal(count(rig, "vk"), 1, "history outlives the pruned activation: a's number stays spent for vk");
    } finally {
      await rig.close();
    }
  });

  it("exports the core config schema with defaults", () => {
    assert.equal(activationsConfigSchema.additionalProperties, false);
    assert.equal(activationsConfigSchema.properties.staleActivationHours.default, 24);
    assert.equal(activationsConfigSchema.properties.cancelLimit.default, 4);
  });
});
