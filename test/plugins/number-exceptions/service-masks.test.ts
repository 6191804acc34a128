/* eslint-disable @typescript-eslint/no-explicit-any -- JSON answers are read loosely in tests */
/**
 * serviceMasks keys are service codes or names in any case: they are
 * normalised to the code the marketplace plugin puts in a request
 * (core/services.ts: `telegram` → `tg`), and an unknown key is a start-up
 * error with its config path, not a mask list that silently never applies.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import numberExceptions, { validateConfig } from "../../../plugins/number-exceptions/index.ts";
import { normaliseService } from "../../../core/services.ts";
import type { Hooks } from "../../../core/hooks.ts";
import { number, request, serveRouters, pluginStarter } from "./plugin-host.ts";

const TOKEN = "s3cret-admin-token-0123456789";

/** Whether the hook allows `msisdn` for a request of `service`, as the marketplace plugin normalises it. */
function allows(hooks: Hooks, msisdn: string, service: string): boolean {
  return hooks.numberFilter.allows(number(msisdn), request(normaliseService(service)));
}

describe("number-exceptions serviceMasks keys", () => {
  const start = pluginStarter(numberExceptions);

  it("names and upper-case codes apply to the request's service code", async () => {
    const { host, hooks } = await start({ serviceMasks: { telegram: ["7916"], VK: ["7908"], " YouTube ": ["7926"] } });
    assert.equal(host.status("number-exceptions"), "running", JSON.stringify(host.list()));
    for (const service of ["tg", "telegram", "Telegram"]) assert.equal(allows(hooks, "79161234567", service), false, `7916 is excluded for ${service}`);
    assert.equal(allows(hooks, "79081234567", "vk"), false, "VK is vk");
    assert.equal(allows(hooks, "79261234567", "go"), false, "youtube is go");
    assert.equal(allows(hooks, "79161234567", "vk"), true, "the telegram masks stay with tg");
    assert.equal(allows(hooks, "79081234567", "tg"), true);
  });

  it("a code and its name both listed: their masks add up", async () => {
    const { hooks } = await start({ serviceMasks: { tg: ["7916"], telegram: ["7926"] } });
    assert.equal(allows(hooks, "79161234567", "tg"), false);
    assert.equal(allows(hooks, "79261234567", "tg"), false);
    assert.equal(allows(hooks, "79081234567", "tg"), true);
  });

  it("an unknown service key fails the start with its config path and registers no hook", async () => {
    const { host, hooks } = await start({ serviceMasks: { tg: ["7916"], telegramm: ["7926"] } });
    assert.equal(host.status("number-exceptions"), "failed");
    assert.match(host.list()[0]?.error ?? "", /plugins\.number-exceptions\.serviceMasks\.telegramm: unknown service "telegramm"/);
    assert.equal(hooks.numberFilter.size, 0);
    assert.deepEqual(validateConfig({ serviceMasks: { Telegram: ["7"], vkk: ["7"] } }), [
      'plugins.number-exceptions.serviceMasks.vkk: unknown service "vkk" (known: vk, ok, wa, tg, vi, fb, ig, tw, go, mm, ma, ya, av, ub, wb, ds, tn, am, dh, ts, lf, nf, mt, ot, or their names)',
    ]);
  });

  it("a reload with a name as key applies to the code; an unknown key keeps the old masks", async () => {
    const { host, hooks } = await start({ serviceMasks: { vk: ["7908"] } });
    await host.reload({ "number-exceptions": { serviceMasks: { WhatsApp: ["7916"] } } });
    assert.equal(allows(hooks, "79161234567", "wa"), false);
    assert.equal(allows(hooks, "79081234567", "vk"), true);
    await host.reload({ "number-exceptions": { serviceMasks: { whatsap: ["*"] } } });
    assert.equal(allows(hooks, "79161234567", "wa"), false, "the rejected reload left the previous masks");
    assert.equal(allows(hooks, "79261234567", "wa"), true);
  });

  it("the admin endpoint normalises keys the same way and refuses unknown ones with their body path", async () => {
    const plugin = await start({ adminToken: TOKEN });
    const server = await serveRouters(plugin.host);
    try {
      const put = async (body: unknown) => {
        const response = await fetch(`${server.url}/number-exceptions/masks`, {
          method: "PUT",
          headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
          body: JSON.stringify(body),
        });
        return { status: response.status, json: (await response.json()) as Record<string, any> };
      };
      const good = await put({ masks: [], serviceMasks: { Telegram: ["7916"] } });
      assert.equal(good.status, 200);
      assert.deepEqual(good.json.serviceMasks, { tg: ["7916"] });
      assert.equal(allows(plugin.hooks, "79161234567", "tg"), false);
      const bad = await put({ masks: [], serviceMasks: { telegramm: ["7926"] } });
      assert.equal(bad.status, 400);
      assert.match(bad.json.details[0], /^body\.serviceMasks\.telegramm: unknown service/);
      assert.equal(allows(plugin.hooks, "79161234567", "tg"), false, "the refused PUT changed nothing");
    } finally {
      await server.close();
    }
  });
});
