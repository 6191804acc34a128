import assert from "node:assert/strict";
import { describe, it } from "node:test";
import numberExceptions from "../../../plugins/number-exceptions/index.ts";
import type { Hooks } from "../../../core/hooks.ts";
import type { NumberInfo } from "../../../core/types.ts";
import { number, request, pluginStarter } from "./plugin-host.ts";

const NUMBERS: NumberInfo[] = ["79081234567", "79081110000", "79161234567", "79169994567", "79260000100", "77011234567", "380501234567"].map(number);

/** What a GET_SERVICES count is: the numbers the hooks allow for the service. */
function count(hooks: Hooks, service: string, exceptionPrefixes: readonly unknown[] = []): number {
  const req = request(service, exceptionPrefixes);
  return NUMBERS.filter((n) => hooks.numberFilter.allows(n, req)).length;
}

function allowed(hooks: Hooks, service: string, exceptionPrefixes: readonly unknown[] = []): string[] {
  const req = request(service, exceptionPrefixes);
  return NUMBERS.filter((n) => hooks.numberFilter.allows(n, req)).map((n) => n.msisdn);
}

describe("number-exceptions through the plugin host", () => {
  const start = pluginStarter(numberExceptions, { numbers: NUMBERS });

  it("registers one numberFilter hook and allows everything with no masks and an empty request set", async () => {
    const { host, hooks } = await start({ masks: [], serviceMasks: {} });
    assert.equal(host.status("number-exceptions"), "running");
    assert.equal(hooks.numberFilter.size, 1);
    assert.equal(count(hooks, "vk"), NUMBERS.length);
  });

  it("excludes numbers by prefix, '*' and '?' masks for every service", async () => {
    const { hooks } = await start({ masks: ["7908", "7916???4567", "*0100"] });
    assert.deepEqual(allowed(hooks, "vk"), ["77011234567", "380501234567"]);
    assert.deepEqual(allowed(hooks, "tg"), ["77011234567", "380501234567"]);
  });

  it("per-service masks apply to their service only", async () => {
    const { hooks } = await start({ masks: ["380"], serviceMasks: { vk: ["7916*"], tg: ["7?01*"] } });
    assert.deepEqual(allowed(hooks, "vk"), ["79081234567", "79081110000", "79260000100", "77011234567"]);
    assert.deepEqual(allowed(hooks, "tg"), ["79081234567", "79081110000", "79161234567", "79169994567", "79260000100"]);
    assert.equal(count(hooks, "wa"), NUMBERS.length - 1);
  });

  it("a mask that excludes every number leaves nothing to issue (NO_NUMBERS)", async () => {
    const { hooks } = await start({ masks: ["*"] });
    for (const service of ["vk", "tg", "ot"]) assert.equal(count(hooks, service), 0);
  });

  it("an invalid mask fails the start with its config path, and registers no hook", async () => {
    const { host, hooks } = await start({ masks: ["7908", "7916*", "79x1"] });
    assert.equal(host.status("number-exceptions"), "failed");
    const [entry] = host.list();
    assert.match(entry?.error ?? "", /plugins\.number-exceptions\.masks\[2\]: "79x1"/);
    assert.equal(hooks.numberFilter.size, 0);
  });

  it("a reload changes the counts of the next GET_SERVICES; an invalid reload keeps the old masks", async () => {
    const { host, hooks } = await start({ masks: ["7908"] });
    assert.equal(count(hooks, "vk"), 5);
    assert.deepEqual(await host.reload({ "number-exceptions": { masks: ["7908", "7916"], serviceMasks: { vk: ["380"] } } }), []);
    assert.equal(count(hooks, "vk"), 2);
    assert.equal(count(hooks, "tg"), 3);
    await host.reload({ "number-exceptions": { masks: ["7?x"] } });
    assert.equal(count(hooks, "vk"), 2, "the rejected config leaves the previous masks in force");
    await host.reload({ "number-exceptions": { masks: [] } });
    assert.equal(count(hooks, "vk"), NUMBERS.length);
  });

  it("stopping the plugin removes its hook", async () => {
    const plugin = await start({ masks: ["*"] });
    await plugin.stop();
    assert.equal(plugin.hooks.numberFilter.size, 0);
    assert.equal(count(plugin.hooks, "vk"), NUMBERS.length);
  });
});
