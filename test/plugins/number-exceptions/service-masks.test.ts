/* eslint-disable @typescript-eslint/no-explicit-any -- JSON answers are read loosely in tests */
/**
 * serviceMasks keys are service codes or names in any case: they are
 * normalised to the code the marketplace plugin puts in a request
 * (core/services.ts: `telegram` → `tg`). The marketplace's service list is
 * longer than simhive's table, so an unknown key is kept as it is written
 * (lower-cased) and warned about with its config path: a typo does not pass
 * unseen, and a code simhive does not know still works.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import numberExceptions, { validateConfig } from "../../../plugins/number-exceptions/index.ts";
import { capturingLogger } from "../../helpers/hub.ts";
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

  it("an unknown service key is kept as written and warned about with its config path", async () => {
    const capture = capturingLogger();
    const { host, hooks } = await start({ serviceMasks: { tg: ["7916"], telegramm: ["7926"], S123: ["7936"] } }, { log: capture.log });
    assert.equal(host.status("number-exceptions"), "running");
    const warnings = capture.lines.filter((line) => line.level === "warn").map((line) => String(line.msg));
    assert.equal(warnings.length, 2, JSON.stringify(warnings));
    assert.match(warnings[0] ?? "", /^plugins\.number-exceptions\.serviceMasks\.telegramm: "telegramm" is no service code simhive knows/);
    assert.match(warnings[1] ?? "", /serviceMasks\.S123: .* apply only to requests for "s123"$/);
    assert.equal(allows(hooks, "79361234567", "s123"), false, "the unknown code's masks apply to it");
    assert.equal(allows(hooks, "79261234567", "tg"), true, "a typo's masks do not reach tg");
    assert.deepEqual(validateConfig({ serviceMasks: { Telegram: ["7"], vkk: ["7"] } }), [], "not an error");
  });

  it("a reload with a name as key applies to the code; an invalid mask keeps the old masks", async () => {
    const { host, hooks } = await start({ serviceMasks: { vk: ["7908"] } });
    await host.reload({ "number-exceptions": { serviceMasks: { WhatsApp: ["7916"] } } });
    assert.equal(allows(hooks, "79161234567", "wa"), false);
    assert.equal(allows(hooks, "79081234567", "vk"), true);
    await host.reload({ "number-exceptions": { serviceMasks: { wa: ["79a*"] } } });
    assert.equal(allows(hooks, "79161234567", "wa"), false, "the rejected reload left the previous masks");
    assert.equal(allows(hooks, "79261234567", "wa"), true);
  });

  it("the admin endpoint normalises keys the same way, warns about unknown ones and refuses bad masks with their body path", async () => {
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
      const typo = await put({ masks: [], serviceMasks: { telegramm: ["7926"] } });
      assert.equal(typo.status, 200);
      assert.match(typo.json.warnings[0], /^body\.serviceMasks\.telegramm: "telegramm" is no service code simhive knows/);
      const bad = await put({ masks: [], serviceMasks: { tg: ["79a"] } });
      assert.equal(bad.status, 400);
      assert.match(bad.json.details[0], /^body\.serviceMasks\.tg\[0\]: /);
      assert.deepEqual((await put({ masks: [], serviceMasks: { Telegram: ["7916"] } })).json.serviceMasks, { tg: ["7916"] });
      assert.equal(allows(plugin.hooks, "79161234567", "tg"), false);
    } finally {
      await server.close();
    }
  });
});
