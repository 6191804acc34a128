import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Registry } from "prom-client";
import { createHooks } from "../../core/hooks.ts";
import { capturingLogger } from "../helpers/hub.ts";

const candidate = { msisdn: "79281234567", iccid: "1", imei: "1", country: "russia", operator: "mts" };
const request = { marketplace: "m", service: "vk", exceptionPrefixes: [] };

describe("hooks", () => {
  it("reminds of a hook that keeps throwing once a minute, with how many failures went unlogged", async () => {
    const { log, lines } = capturingLogger();
    let now = 0;
    const metrics = new Registry();
    const { numberFilter } = createHooks(log, { metrics, now: () => now });
    numberFilter.register("broken", () => {
      throw new Error("always");
    });
    const logged = () => lines.filter((l) => l.owner === "broken" && l.level === "error").map((l) => [l.msg, l.failures, l.unlogged]);
    for (let i = 0; i < 50; i++) numberFilter.allows(candidate, request);
    now = 59_999;
    numberFilter.allows(candidate, request);
    assert.deepEqual(logged(), [["hook threw; counted as deny", undefined, undefined]]);
    now = 60_000;
    numberFilter.allows(candidate, request);
    assert.deepEqual(logged(), [
      ["hook threw; counted as deny", undefined, undefined],
      ["hook threw; counted as deny (still failing)", 52, 50],
    ]);
    assert.match(await metrics.metrics(), /^simhive_hook_failures_total\{hook="numberFilter",owner="broken"\} 52$/m);
  });

  it("forgets an owner's failures when it is removed: a new hook of that name is logged afresh", () => {
    const { log, lines } = capturingLogger();
    const { smsFilter } = createHooks(log);
    const boom = () => {
      throw new Error("boom");
    };
    const sms = { messageId: "1", fingerprint: "f", iccid: "1", sender: "VK", text: "t", receivedAt: 0, parts: 1, complete: true };
    const activation = { activationId: 1, marketplace: "m", msisdn: "7", iccid: "1", country: "russia", operator: "mts", service: "vk", state: "active" as const, createdAt: 0 };
    smsFilter.register("p", boom);
    smsFilter.decide(sms, activation);
    smsFilter.removeOwner("p");
    smsFilter.register("p", boom);
    assert.deepEqual(smsFilter.decide(sms, activation), { action: "hold", reason: "hook-error:p" });
    assert.equal(lines.filter((l) => l.msg === "hook threw; the SMS is held").length, 2);
  });
});
